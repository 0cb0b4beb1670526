/**
 * Sessions that ended while their access tokens may still be valid. The guard treats tokens of
 * such sessions as anonymous at once; entries live until those tokens have expired.
 */
export interface RevocationFeed {
  /**
   * Records the sessions as revoked until `until` and tells every other instance: at once, or,
   * when that cannot be done yet, as soon as it can (unless `until` has passed by then).
   */
  publish(sessionIds: string[], until: Date): Promise<void>;
  /** Answered from memory: no round trip per request. */
  isRevoked(sessionId: string, now: Date): boolean;
}
