import type { Clock } from '../../src/domain/clock';

/** A clock the test moves by hand: expiry is tested without sleeping. */
export class TestClock implements Clock {
  private offsetMs = 0;
  now() {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(seconds: number) {
    this.offsetMs += seconds * 1000;
  }
}
