import type { Clock } from '../clock';
import { enrolmentsLiveSince } from '../mfa/pending-enrolment';
import type { MfaStore } from '../mfa/ports';
import type { SigningKeyStore } from '../ports';
import type { SecretBox } from './secret-box';

/**
 * The key ids that stored secrets still in use are sealed under and ENCRYPTION_KEYS lacks,
 * sorted: signing keys not yet retired (a retired one is never opened again) and TOTP secrets
 * (but pending enrolments too old to be confirmed).
 * With any, some request would fail on opening its secret (a login's MFA code, a key's first
 * signature), so the server refuses to start instead.
 */
export async function findMissingEncryptionKeys(deps: { signingKeys: SigningKeyStore; mfa: MfaStore; box: SecretBox; clock: Clock }) {
  const [signing, totp] = await Promise.all([deps.signingKeys.encryptionKeyIdsInUse(deps.clock.now()), deps.mfa.encryptionKeyIdsInUse(enrolmentsLiveSince(deps.clock.now()))]);
  return [...new Set([...signing, ...totp])].filter((id) => !deps.box.has(id)).sort();
}
