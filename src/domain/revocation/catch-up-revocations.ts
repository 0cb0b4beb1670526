import type { Clock } from '../clock';
import type { SessionStore } from '../ports';
import { CLOCK_SKEW_SECONDS } from '../tokens';
import type { RevocationFeed } from './ports';
import { tokensLiveUntil } from './revoking-session-store';

/**
 * The database is the record of ended sessions; the feed only spreads them fast. This catches
 * up on what the feed did not bring: a revocation made by the admin CLI or by an instance that
 * could not reach Redis and stopped before it could, or made before this instance started
 * without Redis. Reads the sessions ended since `since` (default: as long ago as an access token
 * of theirs may still be valid) and publishes those this instance has not heard of, which also
 * shares them through Redis. Returns how many it published, and where the next read starts:
 * the clock skew before now, so that a revocation stamped by an instance whose clock lags, or
 * committed a moment after it was stamped, is still read.
 */
export async function catchUpRevocations(
  deps: { sessions: Pick<SessionStore, 'listEndedSince'>; revocations: RevocationFeed; clock: Clock },
  accessTokenTtlSeconds: number,
  since?: Date,
): Promise<{ published: number; nextSince: Date }> {
  const now = deps.clock.now();
  const earliest = new Date(now.getTime() - (accessTokenTtlSeconds + CLOCK_SKEW_SECONDS) * 1000);
  const ended = await deps.sessions.listEndedSince(since && since > earliest ? since : earliest);
  // Published together, until the latest of them has expired: an entry kept a little longer
  // than its own tokens refuses nothing that would still verify.
  const unheard = ended.filter(({ id }) => !deps.revocations.isRevoked(id, now));
  if (unheard.length > 0) {
    const latest = unheard.reduce((max, { revokedAt }) => (revokedAt > max ? revokedAt : max), unheard[0]!.revokedAt);
    await deps.revocations.publish(unheard.map(({ id }) => id), tokensLiveUntil(latest, accessTokenTtlSeconds));
  }
  return { published: unheard.length, nextSince: new Date(now.getTime() - CLOCK_SKEW_SECONDS * 1000) };
}
