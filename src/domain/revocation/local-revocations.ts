import type { RevocationFeed } from './ports';

const SWEEP_INTERVAL_MS = 60_000;

/** The revocation feed of one instance (no Redis, or SINGLE_INSTANCE=true), and the in-memory view of the shared one. */
export class LocalRevocations implements RevocationFeed {
  private readonly until = new Map<string, number>();
  /** Entries are forgotten by a sweep at most this often, from the guard's own calls. */
  private nextSweepMs = 0;

  async publish(sessionIds: string[], until: Date) {
    this.remember(sessionIds, until.getTime());
  }

  remember(sessionIds: string[], untilMs: number) {
    for (const id of sessionIds) this.until.set(id, Math.max(untilMs, this.until.get(id) ?? 0));
  }

  /**
   * Also sweeps, once a minute (by `now`): every instance hears of every revocation, most of them
   * for sessions it never sees again, whose entries would otherwise stay for good.
   */
  isRevoked(sessionId: string, now: Date) {
    if (now.getTime() >= this.nextSweepMs) this.sweep(now);
    const until = this.until.get(sessionId);
    if (until === undefined) return false;
    if (until > now.getTime()) return true;
    this.until.delete(sessionId);
    return false;
  }

  /** Forgets entries whose tokens have all expired. */
  sweep(now: Date) {
    for (const [id, until] of this.until) if (until <= now.getTime()) this.until.delete(id);
    this.nextSweepMs = now.getTime() + SWEEP_INTERVAL_MS;
  }

  get size() {
    return this.until.size;
  }
}
