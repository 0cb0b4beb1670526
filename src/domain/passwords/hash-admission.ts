import { RateLimitedError, ServiceUnavailableError } from '../../errors';

export interface HashLimits {
  /** argon2 operations running at once (PASSWORD_HASH_CONCURRENCY). */
  concurrency: number;
  /** Operations that may wait for one of those places (PASSWORD_HASH_QUEUE). */
  queue: number;
  /** Places (running or waiting) one client may hold at once (PASSWORD_HASH_PER_CLIENT). */
  perClient: number;
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
 * One client (its address, as the rate limits key it) holds at most `perClient` of those places:
 * beyond that it is refused with RATE_LIMITED (retry after 1 s), so that one client, even with
 * the right password, cannot take every place and shed everyone else.
 *
 * A caller that must not be refused half-way (after it has counted a rate-limit point, say)
 * reserves its place first: a reservation counts as waiting from the moment it is taken.
 */
export class HashAdmission {
  private running = 0;
  private reserved = 0;
  private readonly waiting: Array<() => void> = [];
  /** Places held per client, from reservation until the hash has run or the place is given back. */
  private readonly held = new Map<string, number>();

  constructor(private readonly limits: HashLimits) {}

  /** Hashes running, and places taken by those waiting (reservations included). */
  get load() {
    return { running: this.running, waiting: this.waiting.length + this.reserved };
  }

  /** True while a new hash would be refused. */
  get saturated() {
    return this.running + this.waiting.length + this.reserved >= this.limits.concurrency + this.limits.queue;
  }

  /** Throws what `reserve(client)` would throw now, reserving nothing (a cheap look). */
  assertAdmissible(client: string) {
    if (this.saturated) throw new ServiceUnavailableError();
    if ((this.held.get(client) ?? 0) >= this.limits.perClient) throw new RateLimitedError(1);
  }

  /** A place now for `client`, or ServiceUnavailableError / RateLimitedError now. */
  reserve(client: string): HashReservation {
    this.assertAdmissible(client);
    this.reserved++;
    this.held.set(client, (this.held.get(client) ?? 0) + 1);
    const leave = () => {
      const count = this.held.get(client)! - 1;
      if (count === 0) this.held.delete(client);
      else this.held.set(client, count);
    };
    let reserved = true;
    const giveBack = () => {
      if (!reserved) return false;
      reserved = false;
      this.reserved--;
      return true;
    };
    return {
      run: (work) => {
        if (!giveBack()) return Promise.reject(new Error('a hash reservation runs once'));
        return this.enter(work).finally(leave);
      },
      release: () => {
        if (giveBack()) leave();
      },
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
