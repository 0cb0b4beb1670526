import type { RevocationFeed } from './ports';

/** The revocation feed of one instance (no Redis, or SINGLE_INSTANCE=true), and the in-memory view of the shared one. */
export class LocalRevocations implements RevocationFeed {
  private readonly until = new Map<string, number>();

  async publish(sessionIds: string[], until: Date) {
    this.remember(sessionIds, until.getTime());
  }

  remember(sessionIds: string[], untilMs: number) {
    for (const id of sessionIds) this.until.set(id, Math.max(untilMs, this.until.get(id) ?? 0));
  }

  isRevoked(sessionId: string, now: Date) {
    const until = this.until.get(sessionId);
    if (until === undefined) return false;
    if (until > now.getTime()) return true;
    this.until.delete(sessionId);
    return false;
  }

  /** Forgets entries whose tokens have all expired. */
  sweep(now: Date) {
    for (const [id, until] of this.until) if (until <= now.getTime()) this.until.delete(id);
  }

  get size() {
    return this.until.size;
  }
}
