import type { Clock } from '../clock';
import type { MfaStore } from '../mfa/ports';
import type { SessionStore } from '../ports';

/**
 * Revoked sessions are kept this long so that a token of a revoked family is still recognised
 * (and logged: 'refresh token reused') as reuse; after that it is merely unknown, which answers
 * the same INVALID_TOKEN.
 */
export const PRUNE_RETENTION_SECONDS = 86_400;

/**
 * Deletes sessions (and their tokens) that expired or were revoked over a day ago, and MFA
 * challenges that expired as long ago. Returns how many sessions went.
 */
export async function prune(deps: { sessions: SessionStore; mfa: MfaStore; clock: Clock }) {
  const before = new Date(deps.clock.now().getTime() - PRUNE_RETENTION_SECONDS * 1000);
  const [sessions] = await Promise.all([deps.sessions.prune(before), deps.mfa.pruneChallenges(before)]);
  return sessions;
}
