import { MfaNotEnabledError } from '../../errors';
import type { AuthDeps, Viewer } from '../auth/deps';
import { getViewerUser } from '../auth/get-viewer-user';
import { announceEnded } from '../revocation';
import { verifySecondFactor } from './verify-second-factor';

/**
 * Turns MFA off with a current TOTP or a recovery code; ends the user's other sessions. The code
 * is spent, and the sessions end, by the removal itself, in its transaction: from a session that ended while the code was
 * checked, UNAUTHENTICATED, MFA stays on and the code unspent.
 */
export async function disableMfa(deps: AuthDeps, viewer: Viewer, code: string) {
  const user = await getViewerUser(deps, viewer);
  if (!user.mfaEnabled) throw new MfaNotEnabledError();
  let ended: { ids: string[]; at: Date } | undefined;
  await verifySecondFactor(deps, user.id, code, {
    recoveryCodes: true,
    rejected: { sessionId: viewer.sessionId },
    spend: async (spending) => {
      const now = deps.clock.now();
      const disabled = await deps.mfa.disable(user.id, now, { by: { sessionId: viewer.sessionId, spending } });
      if (disabled === 'code-refused') return 'refused';
      // Turned off since the code was checked (from this session, say): no wrong code, not counted.
      if (disabled === 'mfa-off') throw new MfaNotEnabledError();
      // The session ended while the code was checked (revoked by the owner, say): nothing changes.
      if (!disabled) return 'session-ended';
      // The other sessions ended with the removal, in its transaction.
      ended = { ids: disabled.ended, at: now };
      return 'spent';
    },
  });
  if (ended) await announceEnded(deps.revocations, ended.ids, ended.at);
  deps.audit('mfa disabled', { userId: user.id });
  return true as const;
}
