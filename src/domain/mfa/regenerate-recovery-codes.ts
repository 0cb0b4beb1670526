import { MfaNotEnabledError, UnauthenticatedError } from '../../errors';
import type { AuthDeps, Viewer } from '../auth/deps';
import { getViewerUser } from '../auth/get-viewer-user';
import { hashRecoveryCode, newRecoveryCodes } from './recovery-codes';
import { verifySecondFactor } from './verify-second-factor';

/**
 * A new set of recovery codes for a current TOTP code; the old set dies. Not for a session that
 * ended while the code was checked: UNAUTHENTICATED, and the old set stays.
 */
export async function regenerateRecoveryCodes(deps: AuthDeps, viewer: Viewer, code: string): Promise<string[]> {
  const user = await getViewerUser(deps, viewer);
  if (!user.mfaEnabled) throw new MfaNotEnabledError();
  await verifySecondFactor(deps, user.id, code, { recoveryCodes: false, rejected: { sessionId: viewer.sessionId } });
  const codes = newRecoveryCodes();
  const hashes = codes.map((c) => hashRecoveryCode(user.id, c));
  const replaced = await deps.mfa.replaceRecoveryCodes(user.id, hashes, deps.clock.now(), viewer.sessionId);
  // Since the code was checked, MFA was turned off (nothing to replace), or the session ended
  // (revoked by the owner, say): the old codes stay.
  if (replaced === 'mfa-off') throw new MfaNotEnabledError();
  if (replaced === 'session-ended') throw new UnauthenticatedError();
  deps.audit('mfa recovery codes regenerated', { userId: user.id });
  return codes;
}
