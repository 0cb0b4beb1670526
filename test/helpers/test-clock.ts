import { onTestFinished } from 'vitest';
import type { Clock } from '../../src/domain/clock';

/** The system clock, moved by `advance`; `freeze` stops it, for a boundary to the millisecond. */
export class TestClock implements Clock {
  private offsetMs = 0;
  private frozenAt: number | undefined;
  now() {
    return new Date((this.frozenAt ?? Date.now()) + this.offsetMs);
  }
  /** By whole milliseconds, as a Date holds them: `advance(0.001)` moves it exactly one. */
  advance(seconds: number) {
    this.offsetMs += Math.round(seconds * 1000);
  }
  /** Stops the clock at its current time (advance still moves it) until `thaw`. */
  freeze() {
    this.frozenAt ??= Date.now();
  }
  /** Lets it run again, from the system's time: it never goes back. */
  thaw() {
    this.frozenAt = undefined;
  }
}

/** Freezes `clock` for the rest of the running test. */
export function freezeForTest(clock: TestClock) {
  clock.freeze();
  onTestFinished(() => clock.thaw());
}
