/**
 * Revocations this process made but has not yet shared through Redis: session id → when its
 * tokens have all expired (ms). Several publishes of one id merge into the latest expiry. An
 * entry whose expiry has passed is dropped instead of shared: no instance would accept its
 * tokens any more.
 */
export class RevocationOutbox {
  private readonly until = new Map<string, number>();

  add(entries: Iterable<readonly [string, number]>) {
    for (const [id, untilMs] of entries) this.until.set(id, Math.max(untilMs, this.until.get(id) ?? 0));
  }

  /**
   * Takes out up to `max` entries still worth sharing (the caller adds them back if sharing
   * fails); undefined when there are none.
   */
  take(nowMs: number, max: number): Array<[string, number]> | undefined {
    this.drop(nowMs);
    if (this.until.size === 0) return undefined;
    const batch: Array<[string, number]> = [];
    for (const entry of this.until) {
      batch.push(entry);
      this.until.delete(entry[0]);
      if (batch.length === max) break;
    }
    return batch;
  }

  has(id: string) {
    return this.until.has(id);
  }

  /** How many are still worth sharing at `nowMs`. */
  size(nowMs: number) {
    this.drop(nowMs);
    return this.until.size;
  }

  private drop(nowMs: number) {
    for (const [id, untilMs] of this.until) if (untilMs <= nowMs) this.until.delete(id);
  }
}
