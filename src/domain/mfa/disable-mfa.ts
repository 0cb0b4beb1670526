import { MfaNotEnabledError } from '../../errors';
import type { AuthDeps, Viewer } from '../auth/deps';
import { getViewerUser } from '../auth/get-viewer-user';
import { verifySecondFactor } from './verify-second-factor';

/**
 * Turns MFA off with a current TOTP or a recovery code; ends the user's other sessions. The code
 * is spent by the removal itself, in its transaction: from a session that ended while the code was
 * checked, UNAUTHENTICATED, MFA stays on and the code unspent.
 */
export async function disableMfa(deps: AuthDeps, viewer: Viewer, code: string) {
  const user = await getViewerUser(deps, viewer);
  if (!user.mfaEnabled) throw new MfaNotEnabledError();
  await verifySecondFactor(deps, user.id, code, {
    recoveryCodes: true,
    rejected: { sessionId: viewer.sessionId },
    spend: async (spending) => {
      const disabled = await deps.mfa.disable(user.id, { by: { sessionId: viewer.sessionId, now: deps.clock.now(), spending } });
      if (disabled === 'code-refused') return 'refused';
      // Turned off since the code was checked (from this session, say): no wrong code, not counted.
      if (disabled === 'mfa-off') throw new MfaNotEnabledError();
      // The session ended while the code was checked (revoked by the owner, say): nothing changes.
      return disabled ? 'spent' : 'session-ended';
    },
  });
  await deps.sessions.revokeAllOfUser(user.id, 'mfa_changed', deps.clock.now(), viewer.sessionId);
  deps.audit('mfa disabled', { userId: user.id });
  return true as const;
}
