import { MfaNotEnabledError } from '../../errors';
import type { AuthDeps, Viewer } from '../auth/deps';
import { getViewerUser } from '../auth/get-viewer-user';
import { hashRecoveryCode, newRecoveryCodes } from './recovery-codes';
import { verifySecondFactor } from './verify-second-factor';

/** A new set of recovery codes for a current TOTP code; the old set dies. */
export async function regenerateRecoveryCodes(deps: AuthDeps, viewer: Viewer, code: string): Promise<string[]> {
  const user = await getViewerUser(deps, viewer);
  if (!user.mfaEnabled) throw new MfaNotEnabledError();
  await verifySecondFactor(deps, user.id, code, { recoveryCodes: false, rejected: { sessionId: viewer.sessionId } });
  const codes = newRecoveryCodes();
  // MFA turned off since the code was checked: nothing to replace.
  if (!(await deps.mfa.replaceRecoveryCodes(user.id, codes.map((c) => hashRecoveryCode(user.id, c)), deps.clock.now()))) {
    throw new MfaNotEnabledError();
  }
  deps.audit('mfa recovery codes regenerated', { userId: user.id });
  return codes;
}
