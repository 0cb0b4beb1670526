import { systemClock } from '../domain/clock';

/**
 * What the kit asks for the time: the gateway's Clock, restated, since the kit's declarations
 * import nothing of the gateway. A test moves one instead of waiting out cooldowns and lifetimes.
 */
export interface Clock {
  now(): Date;
}

const NOT_A_CLOCK = 'clock must be an object with a now() method that returns a Date';

/**
 * The option, or the system's clock. Anything else throws a TypeError: at once for no `now()`
 * or one that answers no valid Date (`Date.now()`'s number, say), and from the verification
 * that meets a later such answer: every wait compared with it would be false, and the key set
 * fetched anew by every request.
 */
export function checkedClock(clock: Clock | undefined): Clock {
  if (clock === undefined) return systemClock;
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') throw new TypeError(NOT_A_CLOCK);
  const checked = {
    now() {
      const date: unknown = clock.now();
      if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw new TypeError(NOT_A_CLOCK);
      return date;
    },
  };
  checked.now();
  return checked;
}
