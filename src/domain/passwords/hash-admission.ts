import { ServiceUnavailableError } from '../../errors';

export interface HashLimits {
  /** argon2 operations running at once (PASSWORD_HASH_CONCURRENCY). */
  concurrency: number;
  /** Operations that may wait for one of those places (PASSWORD_HASH_QUEUE). */
  queue: number;
}

/** A place in line for one hash, held from before the caller spends anything else. */
export interface HashReservation {
  /** Runs the hash in this place (once). */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Gives the place back unused; nothing once it has run. */
  release(): void;
}

/**
 * Admission for password hashing. argon2 is the gateway's one expensive operation and runs on
 * libuv's thread pool, which everything else shares: unbounded, a login storm would occupy
 * every core and thread and queue everyone else's work behind it. So at most `concurrency`
 * hashes run and at most `queue` more wait (first come, first served); one beyond that is
 * refused at once with SERVICE_UNAVAILABLE: a wait is bounded by the queue, never by the storm.
 *
 * A caller that must not be refused half-way (after it has counted a rate-limit point, say)
 * reserves its place first: a reservation counts as waiting from the moment it is taken.
 */
export class HashAdmission {
  private running = 0;
  private reserved = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limits: HashLimits) {}

  /** True while a new hash would be refused. */
  get saturated() {
    return this.running + this.waiting.length + this.reserved >= this.limits.concurrency + this.limits.queue;
  }

  /** A place now, or ServiceUnavailableError now. */
  reserve(): HashReservation {
    if (this.saturated) throw new ServiceUnavailableError();
    this.reserved++;
    let held = true;
    const giveBack = () => {
      if (!held) return false;
      held = false;
      this.reserved--;
      return true;
    };
    return {
      run: (work) => {
        if (!giveBack()) return Promise.reject(new Error('a hash reservation runs once'));
        return this.enter(work);
      },
      release: () => void giveBack(),
    };
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    if (this.saturated) return Promise.reject(new ServiceUnavailableError());
    return this.enter(work);
  }

  private async enter<T>(work: () => Promise<T>): Promise<T> {
    if (this.running < this.limits.concurrency) {
      this.running++;
    } else {
      // The place is handed over by the hash that ends: `running` stays counted.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
