import type { Clock } from '../clock';
import type { SessionStore } from '../ports';
import type { RevocationFeed } from './ports';
import { revocationsInForceSince, tokensLiveUntil } from './token-lifetimes';

/**
 * The database is the record of ended sessions; the feed only spreads them fast. This catches
 * up on what the feed did not bring: a revocation made by the admin CLI or by an instance that
 * could not reach Redis and stopped before it could, or made before this instance started
 * without Redis. Reads every session ended as long ago as an access token of it may still be
 * valid, whoever issued it (the longest ACCESS_TOKEN_TTL + the clock skew: instances with a
 * shorter one would otherwise never share what subgraphs, which accept tokens that old, still
 * need), whenever it was committed: a revocation stamped before a lock wait, or by an instance
 * whose clock lags, is read however late it lands. It publishes those this instance has not
 * heard of, which also shares them through Redis, and returns how many.
 */
export async function catchUpRevocations(
  deps: { sessions: Pick<SessionStore, 'listEndedSince'>; revocations: RevocationFeed; clock: Clock },
): Promise<number> {
  const now = deps.clock.now();
  const ended = await deps.sessions.listEndedSince(revocationsInForceSince(now));
  // Published together, until the latest of them has expired: an entry kept a little longer
  // than its own tokens refuses nothing that would still verify.
  const unheard = ended.filter(({ id }) => !deps.revocations.isRevoked(id, now));
  if (unheard.length > 0) {
    const latest = unheard.reduce((max, { revokedAt }) => (revokedAt > max ? revokedAt : max), unheard[0]!.revokedAt);
    await deps.revocations.publish(unheard.map(({ id }) => id), tokensLiveUntil(latest));
  }
  return unheard.length;
}
