/**
 * AES-256-GCM for secrets at rest (signing keys, TOTP secrets). The first key
 * encrypts; any key decrypts by the id stored beside the ciphertext. The associated data binds
 * a ciphertext to its row (e.g. the key id), so ciphertexts cannot be swapped between rows.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { OperatorError } from '../../errors';

/** One ENCRYPTION_KEYS entry. */
export interface EncryptionKey {
  id: string;
  key: Buffer;
}

export interface Sealed {
  ciphertext: string;
  keyId: string;
}

export class SecretBox {
  private readonly byId: Map<string, Buffer>;

  constructor(private readonly keys: readonly EncryptionKey[]) {
    if (keys.length === 0) throw new Error('SecretBox needs at least one key');
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  get currentKeyId() {
    return this.keys[0]!.id;
  }

  /** Whether ENCRYPTION_KEYS has an entry with this id (which open() would need). */
  has(keyId: string) {
    return this.byId.has(keyId);
  }

  seal(plaintext: string, associatedData: string): Sealed {
    const { id, key } = this.keys[0]!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(associatedData));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const sealed = Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
    return { ciphertext: sealed, keyId: id };
  }

  /** Throws when the key id is unknown, or SecretDoesNotOpenError when its key does not open the ciphertext. */
  open(sealed: Sealed, associatedData: string): string {
    const key = this.byId.get(sealed.keyId);
    if (!key) throw new MissingEncryptionKeyError(sealed.keyId);
    const raw = Buffer.from(sealed.ciphertext, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(associatedData));
    decipher.setAuthTag(raw.subarray(12, 28));
    try {
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretDoesNotOpenError(sealed.keyId);
    }
  }
}

/** A secret sealed under a key id ENCRYPTION_KEYS lacks (logged by its class and that id, `keyId`). */
export class MissingEncryptionKeyError extends Error {
  constructor(readonly keyId: string) {
    super(`No encryption key with id "${keyId}" in ENCRYPTION_KEYS`);
  }
}

/**
 * A sealed secret that the ENCRYPTION_KEYS entry of its key id does not open: that entry holds
 * other key bytes than the ones it was sealed with (AES-GCM cannot tell that from a damaged
 * ciphertext). The message names the id, never a key.
 */
export class SecretDoesNotOpenError extends OperatorError {
  constructor(readonly keyId: string) {
    super(
      `the ENCRYPTION_KEYS entry "${keyId}" does not open the secrets sealed under that id: it holds other key bytes than the ones they were sealed with (or a secret is damaged); give that id its original key`,
    );
  }
}

export function generateEncryptionKeyEntry(id: string): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}
