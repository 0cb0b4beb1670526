import { systemClock } from '../domain/clock';

/**
 * What the kit asks for the time: the gateway's Clock, restated, since the kit's declarations
 * import nothing of the gateway. A test moves one instead of waiting out cooldowns and lifetimes.
 */
export interface Clock {
  now(): Date;
}

/** The option as given, or the system's clock; in plain JavaScript anything else throws at once. */
export function checkedClock(clock: Clock | undefined): Clock {
  if (clock === undefined) return systemClock;
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') {
    throw new TypeError('clock must be an object with a now() method that returns a Date');
  }
  return clock;
}
