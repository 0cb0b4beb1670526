import type { Clock } from '../clock';
import type { MfaStore } from '../mfa/ports';
import type { SessionStore } from '../ports';

/**
 * Revoked sessions, and the spent refresh tokens of live ones, are kept this long so that a
 * token presented again is still recognised (and logged: 'refresh token reused') as reuse, and
 * its session ended; after that it is merely unknown, which answers the same INVALID_TOKEN.
 * Keeping spent tokens no longer also bounds what a client refreshing in a loop leaves behind.
 */
export const PRUNE_RETENTION_SECONDS = 86_400;

/**
 * Deletes sessions (and their tokens) that expired or were revoked over a day ago, the refresh
 * tokens of live sessions spent as long ago, and MFA challenges that expired as long ago.
 * Returns how many sessions and spent tokens went.
 */
export async function prune(deps: { sessions: SessionStore; mfa: MfaStore; clock: Clock }) {
  const before = new Date(deps.clock.now().getTime() - PRUNE_RETENTION_SECONDS * 1000);
  const [sessions] = await Promise.all([deps.sessions.prune(before), deps.mfa.pruneChallenges(before)]);
  const spentTokens = await deps.sessions.pruneSpentTokens(before);
  return { sessions, spentTokens };
}
