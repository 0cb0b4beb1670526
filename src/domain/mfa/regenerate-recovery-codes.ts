import { MfaNotEnabledError } from '../../errors';
import type { AuthDeps, Viewer } from '../auth/deps';
import { getViewerUser } from '../auth/get-viewer-user';
import { hashRecoveryCode, newRecoveryCodes } from './recovery-codes';
import { verifySecondFactor } from './verify-second-factor';

/**
 * A new set of recovery codes for a current TOTP code; the old set dies. The code is spent by the
 * replacement itself, in its transaction: from a session that ended while the code was checked,
 * UNAUTHENTICATED, the old set stays and the code unspent.
 */
export async function regenerateRecoveryCodes(deps: AuthDeps, viewer: Viewer, code: string): Promise<string[]> {
  const user = await getViewerUser(deps, viewer);
  if (!user.mfaEnabled) throw new MfaNotEnabledError();
  // Made once the code is found right: a wrong one costs nothing more.
  let codes: string[] = [];
  await verifySecondFactor(deps, user.id, code, {
    recoveryCodes: false,
    rejected: { sessionId: viewer.sessionId },
    spend: async (spending) => {
      codes = newRecoveryCodes();
      const hashes = codes.map((c) => hashRecoveryCode(user.id, c));
      const replaced = await deps.mfa.replaceRecoveryCodes(user.id, hashes, deps.clock.now(), viewer.sessionId, spending);
      // Since the code was checked, MFA was turned off (nothing to replace): the old codes stay.
      if (replaced === 'mfa-off') throw new MfaNotEnabledError();
      if (replaced === 'code-refused') return 'refused';
      return replaced === 'replaced' ? 'spent' : 'session-ended';
    },
  });
  deps.audit('mfa recovery codes regenerated', { userId: user.id });
  return codes;
}
