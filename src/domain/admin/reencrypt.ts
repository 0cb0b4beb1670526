import type { SecretBox } from '../crypto/secret-box';
import type { MfaStore } from '../mfa/ports';
import { openTotpSecret, sealTotpSecret } from '../mfa/secret';
import type { SigningKeyStore } from '../ports';

/**
 * Re-seals every stored secret under the first ENCRYPTION_KEYS entry, so that older entries
 * can be retired. Returns how many secrets were re-sealed.
 */
export async function reencrypt(deps: { signingKeys: SigningKeyStore; mfa: MfaStore; box: SecretBox }) {
  let count = 0;
  for (const key of await deps.signingKeys.list()) {
    if (key.encryptionKeyId === deps.box.currentKeyId) continue;
    const plain = deps.box.open({ ciphertext: key.privateKeyCiphertext, keyId: key.encryptionKeyId }, key.kid);
    const sealed = deps.box.seal(plain, key.kid);
    await deps.signingKeys.updateCiphertext(key.kid, sealed.ciphertext, sealed.keyId);
    count++;
  }
  for (const { userId, sealed } of await deps.mfa.listSealed()) {
    if (sealed.keyId === deps.box.currentKeyId) continue;
    const secret = openTotpSecret(deps.box, userId, sealed);
    await deps.mfa.updateSealed(userId, sealed, sealTotpSecret(deps.box, userId, secret));
    count++;
  }
  return count;
}
