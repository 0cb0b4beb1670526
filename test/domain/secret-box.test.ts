// Rule: secrets at rest are AES-256-GCM sealed under the first ENCRYPTION_KEYS entry, open under any listed entry, and refuse to open when tampered with, moved to another row or keyed by an unknown id.
import { describe, expect, it } from 'vitest';
import { parseEncryptionKeys } from '../../src/config';
import { generateEncryptionKeyEntry, SecretBox } from '../../src/domain/crypto/secret-box';

const oldEntry = generateEncryptionKeyEntry('old');
const newEntry = generateEncryptionKeyEntry('new');
const SECRET = '{"kty":"EC","d":"private-scalar"}';

describe('SecretBox', () => {
  it('round-trips, with a fresh IV each time and no plaintext in the ciphertext', () => {
    const box = new SecretBox(parseEncryptionKeys(oldEntry));
    const one = box.seal(SECRET, 'row-1');
    const two = box.seal(SECRET, 'row-1');
    expect(one.keyId).toBe('old');
    expect(one.ciphertext).not.toBe(two.ciphertext);
    expect(Buffer.from(one.ciphertext, 'base64').toString('latin1')).not.toContain('private-scalar');
    expect(box.open(one, 'row-1')).toBe(SECRET);
  });

  it('seals under the first entry and still opens what an older entry sealed', () => {
    const sealedByOld = new SecretBox(parseEncryptionKeys(oldEntry)).seal(SECRET, 'row-1');
    const rotated = new SecretBox(parseEncryptionKeys(`${newEntry},${oldEntry}`));
    expect(rotated.open(sealedByOld, 'row-1')).toBe(SECRET);
    expect(rotated.seal(SECRET, 'row-1').keyId).toBe('new');
  });

  it('refuses a ciphertext bound to another row, a flipped byte, an unknown key id and other key bytes', () => {
    const box = new SecretBox(parseEncryptionKeys(oldEntry));
    const sealed = box.seal(SECRET, 'row-1');
    expect(() => box.open(sealed, 'row-2')).toThrow();

    const raw = Buffer.from(sealed.ciphertext, 'base64');
    raw[raw.length - 1]! ^= 1;
    expect(() => box.open({ ...sealed, ciphertext: raw.toString('base64') }, 'row-1')).toThrow();

    expect(() => new SecretBox(parseEncryptionKeys(newEntry)).open(sealed, 'row-1')).toThrow(/no encryption key/i);
    const sameIdOtherBytes = new SecretBox(parseEncryptionKeys(generateEncryptionKeyEntry('old')));
    expect(() => sameIdOtherBytes.open(sealed, 'row-1')).toThrow();
  });
});
