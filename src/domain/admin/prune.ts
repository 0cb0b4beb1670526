import type { Clock } from '../clock';
import type { MfaStore } from '../mfa/ports';
import type { SessionStore } from '../ports';

/**
 * Revoked sessions are kept this long so that a token of a revoked family is still recognised
 * (and logged: 'refresh token reused') as reuse; after that it is merely unknown, which answers
 * the same INVALID_TOKEN.
 */
const PRUNE_RETENTION_SECONDS = 86_400;

/**
 * Deletes sessions (and their tokens) that expired or were revoked over a day ago, and MFA
 * challenges that expired as long ago. And the spent refresh tokens of live sessions, once
 * REFRESH_TOKEN_IDLE_TTL (at least a day) has passed since they were spent: a thief who
 * refreshed first keeps the session alive, and the owner's client, which may wait that long
 * before its next refresh, must still find its token spent, not unknown, so that the session
 * ends (reuse detection). Sooner than the session's end, this bounds what a client refreshing
 * in a loop leaves behind. Returns how many sessions, spent tokens and MFA challenges went.
 */
export async function prune(deps: { sessions: SessionStore; mfa: MfaStore; clock: Clock; settings: { refresh: { idleTtl: number } } }) {
  const now = deps.clock.now().getTime();
  const before = new Date(now - PRUNE_RETENTION_SECONDS * 1000);
  const [sessions, mfaChallenges] = await Promise.all([deps.sessions.prune(before), deps.mfa.pruneChallenges(before)]);
  const spentBefore = new Date(now - Math.max(PRUNE_RETENTION_SECONDS, deps.settings.refresh.idleTtl) * 1000);
  const spentTokens = await deps.sessions.pruneSpentTokens(spentBefore, new Date(now));
  return { sessions, spentTokens, mfaChallenges };
}
