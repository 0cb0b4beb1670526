import { BadUserInputError, InvalidMfaCodeError, MfaAlreadyEnabledError, UnauthenticatedError } from '../../errors';
import type { Sealed } from '../crypto/secret-box';
import type { AuthDeps, Viewer } from '../auth/deps';
import { getViewerUser } from '../auth/get-viewer-user';
import { announceEnded } from '../revocation';
import { enrolmentsLiveSince } from './pending-enrolment';
import { hashRecoveryCode, newRecoveryCodes } from './recovery-codes';
import { openTotpSecret } from './secret';
import { matchingStep } from './totp';

/**
 * Turns MFA on with a code from the pending secret, returns the recovery codes (shown once,
 * stored only as hashes) and ends the user's other sessions, all in one transaction: one that
 * fails changes nothing, and its retry finds the enrolment still pending. The pending enrolment must be
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
  // A factor confirmed since the user was read: the same confirmation, sent twice.
  if (!pending) throw factor?.confirmed ? new MfaAlreadyEnabledError() : noPendingEnrolment();
  const { codes, ended, now } = await deps.throttle
    .guardMfa(user.id, (error) => error instanceof InvalidMfaCodeError, async () => {
      const now = deps.clock.now();
      const step = matchingStep(openTotpSecret(deps.box, user.id, factor.sealed), code, now);
      if (step === null) throw new InvalidMfaCodeError();
      const fresh = newRecoveryCodes();
      const hashes = fresh.map((c) => hashRecoveryCode(user.id, c));
      const confirmed = await deps.mfa.confirm(user.id, factor.sealed, step, hashes, now, viewer.sessionId);
      // The session ended while the code was checked (revoked by the owner, say): MFA stays off.
      if (confirmed === 'session-ended') throw new UnauthenticatedError();
      if (confirmed === 'unconfirmed') throw await whyUnconfirmed(deps, user.id, factor.sealed);
      // The other sessions ended with the confirmation, in its transaction.
      return { codes: fresh, ended: confirmed.ended, now };
    })
    .catch((error: unknown) => {
      // A wrong code draws on the one budget of guesses at the secret, and is audited as at every other path.
      if (error instanceof InvalidMfaCodeError) deps.audit('mfa code rejected', { userId: user.id, sessionId: viewer.sessionId });
      throw error;
    });
  await announceEnded(deps.revocations, ended, now);
  deps.audit('mfa enabled', { userId: user.id });
  return codes;
}

// No `field`: the code is not what is wrong (a form would mark its input), the missing enrolment is.
const noPendingEnrolment = () => new BadUserInputError('No pending MFA enrolment (or it expired, or your sessions were ended since): call enrollMfa.');

/**
 * Why a right code confirmed nothing, read after the fact: MFA turned on meanwhile (the same
 * confirmation sent twice), the enrolment replaced or voided meanwhile (a new enrollMfa, all
 * sessions ended), or else its step already accepted. Only the last is a wrong code, counted
 * against the MFA limits; the others are answered as they would have been a moment later.
 */
async function whyUnconfirmed(deps: AuthDeps, userId: string, sealed: Sealed) {
  const [user, factor] = await Promise.all([deps.users.findById(userId), deps.mfa.getFactor(userId)]);
  if (user?.mfaEnabled) return new MfaAlreadyEnabledError();
  const samePending = factor && !factor.confirmed && factor.sealed.ciphertext === sealed.ciphertext && factor.sessionEpoch === user?.sessionEpoch;
  return samePending ? new InvalidMfaCodeError() : noPendingEnrolment();
}
