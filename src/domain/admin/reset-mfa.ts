import type { AuthDeps } from '../auth/deps';
import { announceEnded } from '../revocation';
import { findUserByEmail } from './find-user-by-email';

type Deps = Pick<AuthDeps, 'users' | 'mfa' | 'revocations' | 'clock' | 'audit'>;

/** Why an operator took a user's MFA away (the audit line's `reason`). */
export type MfaResetReason = 'admin' | 'encryption key forgotten';

/**
 * For a user who has lost both the authenticator and the recovery codes: removes the TOTP
 * factor, confirmed or pending, the recovery codes and the open login challenges. When MFA
 * was on, every session ends too, so whoever holds the lost device keeps nothing; the user
 * signs in with the password alone and can enrol again. Null when there was nothing to reset.
 */
export async function resetMfa(deps: Deps, email: string) {
  const user = await findUserByEmail(deps.users, email);
  const factor = await deps.mfa.getFactor(user.id);
  if (!factor && !user.mfaEnabled) return null;
  return removeMfa(deps, user.id, 'admin');
}

/**
 * Removes the user's MFA (only a factor sealed under `sealedUnder`, when given); ends every
 * session when it was on as it was removed (a pending enrolment confirmed since it was read
 * counts as on). Returns whether anything was removed, and the sessions ended.
 */
export async function removeMfa(deps: Deps, userId: string, reason: MfaResetReason, sealedUnder?: string) {
  const now = deps.clock.now();
  const removed = await deps.mfa.disable(userId, now, { sealedUnder });
  // (The other answers are for a removal that spends a code: an admin's spends none.)
  if (removed === null || typeof removed === 'string') return { removed: false, wasOn: false, ended: [] };
  // The sessions ended with the removal, in its transaction.
  const { wasOn, ended } = removed;
  await announceEnded(deps.revocations, ended, now);
  deps.audit('mfa reset', { userId, reason, wasOn, endedSessions: ended.length });
  return { removed: true, wasOn, ended };
}
