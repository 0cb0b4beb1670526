import QRCode from 'qrcode';
import { MfaAlreadyEnabledError } from '../../errors';
import { checkCredentials } from '../auth/check-credentials';
import type { AuthDeps, ClientInfo, Viewer } from '../auth/deps';
import { getViewerUser } from '../auth/get-viewer-user';
import { sealTotpSecret } from './secret';
import { newTotpSecret, otpauthUri } from './totp';

export interface MfaEnrollment {
  secret: string;
  otpauthUri: string;
  qrCodeSvg: string;
}

/**
 * Starts (or restarts) a pending TOTP enrolment; needs the current password. Nothing changes
 * for logins until confirmMfa: a pending enrolment never confirmed leaves the account as it was.
 * It can be confirmed for MFA_ENROLMENT_TTL_SECONDS, and not after the end of all the user's
 * sessions (a password change, logoutAll…), like the sessions of the password it was made with.
 */
export async function enrollMfa(deps: AuthDeps, viewer: Viewer, password: string, client: ClientInfo): Promise<MfaEnrollment> {
  const account = await getViewerUser(deps, viewer);
  if (account.mfaEnabled) throw new MfaAlreadyEnabledError();
  const user = await checkCredentials(deps, { account }, password, client, 'enrollMfa');
  const secret = newTotpSecret();
  if (!(await deps.mfa.savePending(user.id, sealTotpSecret(deps.box, user.id, secret), deps.clock.now(), user.sessionEpoch))) {
    throw new MfaAlreadyEnabledError();
  }
  const uri = otpauthUri(secret, deps.settings.mfa.issuer, user.email);
  return { secret, otpauthUri: uri, qrCodeSvg: await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }) };
}
