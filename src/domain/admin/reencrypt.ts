import type { Audit } from '../audit';
import type { Clock } from '../clock';
import type { Sealed, SecretBox } from '../crypto/secret-box';
import { enrolmentsLiveSince } from '../mfa/pending-enrolment';
import type { MfaStore } from '../mfa/ports';
import { openTotpSecret, sealTotpSecret } from '../mfa/secret';
import type { EncryptionKeyHistory, SigningKeyStore } from '../ports';
import { isRetired } from '../tokens/key-ring';

/** Why a secret could not be re-sealed: its key id has no ENCRYPTION_KEYS entry, or that entry does not open it. */
export type ResealFailure = 'unknown-key' | 'does-not-open';

export interface ReencryptReport {
  /** Secrets now sealed under the first ENCRYPTION_KEYS entry that were not before. */
  resealed: number;
  /** Secrets in use left as they were, counted by the key id they are sealed under and why, sorted by key id. */
  failed: Array<{ keyId: string; reason: ResealFailure; count: number }>;
  /** How many secrets in use were left as they were: the sum of `failed`'s counts. */
  left: number;
  /** Retired signing keys that could not be opened: never opened again, so left as they are. */
  retiredLeft: number;
}

/**
 * Re-seals every stored secret under the first ENCRYPTION_KEYS entry, so that older entries
 * can be retired. A secret that cannot be opened is counted and left as it is, and the rest
 * go on: the report says what is left under which key, which must then stay in ENCRYPTION_KEYS.
 * The first entry is recorded as the most recent current key first (an operator's choice,
 * also when it goes back to an older key: instances started with another first are then warned).
 */
export async function reencrypt(deps: {
  signingKeys: SigningKeyStore;
  mfa: MfaStore;
  keyHistory: EncryptionKeyHistory;
  box: SecretBox;
  clock: Clock;
  audit: Audit;
}): Promise<ReencryptReport> {
  const { box } = deps;
  const now = deps.clock.now();
  await deps.keyHistory.markCurrent(box.currentKeyId, now);
  let resealed = 0;
  let retiredLeft = 0;
  const failed = new Map<string, { keyId: string; reason: ResealFailure; count: number }>();
  const fail = (keyId: string, reason: ResealFailure) => {
    const entry = failed.get(`${keyId}\0${reason}`) ?? { keyId, reason, count: 0 };
    entry.count++;
    failed.set(`${keyId}\0${reason}`, entry);
  };

  for (const key of await deps.signingKeys.list()) {
    if (key.encryptionKeyId === box.currentKeyId) continue;
    const sealed = { ciphertext: key.privateKeyCiphertext, keyId: key.encryptionKeyId };
    const opened = tryOpen(box, sealed, () => box.open(sealed, key.kid));
    if ('failure' in opened) {
      if (isRetired(key, now)) retiredLeft++;
      else fail(sealed.keyId, opened.failure);
      continue;
    }
    const after = box.seal(opened.plain, key.kid);
    await deps.signingKeys.updateCiphertext(key.kid, after.ciphertext, after.keyId);
    resealed++;
  }
  for (const { userId, sealed } of await deps.mfa.listSealed(enrolmentsLiveSince(now))) {
    if (sealed.keyId === box.currentKeyId) continue;
    const opened = tryOpen(box, sealed, () => openTotpSecret(box, userId, sealed));
    if ('failure' in opened) {
      fail(sealed.keyId, opened.failure);
      continue;
    }
    await deps.mfa.updateSealed(userId, sealed, sealTotpSecret(box, userId, opened.plain));
    resealed++;
  }
  const byKeyId = [...failed.values()].sort((a, b) => a.keyId.localeCompare(b.keyId) || a.reason.localeCompare(b.reason));
  const left = byKeyId.reduce((sum, f) => sum + f.count, 0);
  deps.audit('secrets reencrypted', { count: resealed, keyId: box.currentKeyId, left });
  return { resealed, failed: byKeyId, left, retiredLeft };
}

/** The plaintext, or why it cannot be had (a wrong key and a damaged ciphertext look alike to AES-GCM). */
function tryOpen(box: SecretBox, sealed: Sealed, open: () => string): { plain: string } | { failure: ResealFailure } {
  if (!box.has(sealed.keyId)) return { failure: 'unknown-key' };
  try {
    return { plain: open() };
  } catch {
    return { failure: 'does-not-open' };
  }
}
