import { BadUserInputError, InvalidMfaCodeError, MfaAlreadyEnabledError } from '../../errors';
import type { AuthDeps, Viewer } from '../auth/deps';
import { getViewerUser } from '../auth/get-viewer-user';
import { enrolmentsLiveSince } from './pending-enrolment';
import { hashRecoveryCode, newRecoveryCodes } from './recovery-codes';
import { openTotpSecret } from './secret';
import { matchingStep } from './totp';

/**
 * Turns MFA on with a code from the pending secret, returns the recovery codes (shown once,
 * stored only as hashes) and ends the user's other sessions. The pending enrolment must be
 * younger than MFA_ENROLMENT_TTL_SECONDS and from the user's current session epoch.
 */
export async function confirmMfa(deps: AuthDeps, viewer: Viewer, code: string): Promise<string[]> {
  const user = await getViewerUser(deps, viewer);
  if (user.mfaEnabled) throw new MfaAlreadyEnabledError();
  const factor = await deps.mfa.getFactor(user.id);
  const pending =
    factor &&
    !factor.confirmed &&
    factor.sessionEpoch === user.sessionEpoch &&
    factor.enrolledAt > enrolmentsLiveSince(deps.clock.now());
  if (!pending) {
    throw new BadUserInputError('No pending MFA enrolment (or it expired, or your sessions were ended since): call enrollMfa.', 'code');
  }
  const codes = await deps.throttle.guardMfa(
    user.id,
    (error) => error instanceof InvalidMfaCodeError,
    async () => {
      const now = deps.clock.now();
      const step = matchingStep(openTotpSecret(deps.box, user.id, factor.sealed), code.trim(), now);
      if (step === null) throw new InvalidMfaCodeError();
      const fresh = newRecoveryCodes();
      const hashes = fresh.map((c) => hashRecoveryCode(user.id, c));
      const confirmed = await deps.mfa.confirm(user.id, factor.sealed, step, hashes, now);
      if (!confirmed) throw new InvalidMfaCodeError(); // replaced meanwhile, or a replayed step
      return fresh;
    },
  );
  await deps.sessions.revokeAllOfUser(user.id, 'mfa_changed', deps.clock.now(), viewer.sessionId);
  deps.audit('mfa enabled', { userId: user.id });
  return codes;
}
