import type { AuthDeps } from '../auth/deps';
import { announceEnded } from '../revocation';
import type { Throttle } from '../throttle';
import { findUserByEmail } from './find-user-by-email';
import { clearing } from './unblock-account';

type Deps = Pick<AuthDeps, 'users' | 'mfa' | 'revocations' | 'clock' | 'audit'>;

/** Why an operator took a user's MFA away (the audit line's `reason`). */
export type MfaResetReason = 'admin' | 'encryption key forgotten';

/**
 * For a user who has lost both the authenticator and the recovery codes: removes the TOTP
 * factor, confirmed or pending, the recovery codes and the open login challenges. When MFA
 * was on, every session ends too, so whoever holds the lost device keeps nothing; the user
 * signs in with the password alone and can enrol again. So that they can, the user's MFA
 * counters start over as well (a user locked out by wrong codes is who asks for a reset, and
 * confirming a new enrolment counts against them), whether or not there was MFA to remove: a
 * run that removed it but could not clear them is completed by running it again. `throttle`
 * null: each server counts in its own memory (no REDIS_URL), which nothing here can clear.
 * `removed` null when there was nothing to reset; `countersCleared` false without a throttle.
 */
export async function resetMfa(deps: Deps & { throttle: Throttle | null }, email: string) {
  const user = await findUserByEmail(deps.users, email);
  const factor = await deps.mfa.getFactor(user.id);
  const removed = !factor && !user.mfaEnabled ? null : await removeMfa(deps, user.id, 'admin');
  if (!deps.throttle) return { removed, countersCleared: false };
  await clearing(deps.throttle.clearMfaCounters(user.id));
  return { removed, countersCleared: true };
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
