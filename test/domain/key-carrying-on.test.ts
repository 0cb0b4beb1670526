// Rule: when forget-encryption-key gives up the keys sealed under a lost key id, the key of JWT_ALG
// that carries on in their place is the newest other usable one, and only where a key given up was
// to carry that algorithm on (no retirement set) and every other usable key of it is leaving.
import { describe, expect, it } from 'vitest';
import type { StoredSigningKey } from '../../src/domain/ports';
import { keyCarryingOn } from '../../src/domain/tokens/key-ring';

const now = new Date('2026-12-01T12:00:00Z');
const minutes = (n: number) => new Date(now.getTime() + n * 60_000);

/** A key as the store keeps it; only the fields keyCarryingOn reads matter. */
function key(kid: string, alg: string, sealedUnder: string, activatesAt: Date, retiresAt: Date | null): StoredSigningKey {
  return { kid, alg, encryptionKeyId: sealedUnder, activatesAt, retiresAt, createdAt: activatesAt, publicJwk: {}, privateKeyCiphertext: '' };
}

describe('keyCarryingOn', () => {
  it('is the newest leaving key of the algorithm, when the one given up was to carry it on', () => {
    const older = key('older', 'ES256', 'kept', minutes(-600), minutes(10)); // leaving since an earlier rotation
    const current = key('current', 'ES256', 'kept', minutes(-300), minutes(40));
    const pending = key('pending', 'ES256', 'lost', minutes(5), null);
    expect(keyCarryingOn([older, current, pending], 'lost', 'ES256', now)?.kid).toBe('current');
  });

  it('looks at keys of JWT_ALG only: a previous algorithm\'s key left unretired does not stand in for one', () => {
    const previous = key('previous', 'ES256', 'kept', minutes(-900), null);
    const current = key('current', 'EdDSA', 'kept', minutes(-300), minutes(40));
    const pending = key('pending', 'EdDSA', 'lost', minutes(5), null);
    expect(keyCarryingOn([previous, current, pending], 'lost', 'EdDSA', now)?.kid).toBe('current');
    // And a key of that previous algorithm never carries on for JWT_ALG.
    expect(keyCarryingOn([previous, current, pending], 'lost', 'ES256', now)).toBeUndefined();
  });

  it('is none when the key given up was leaving itself, or another key carries the algorithm on already', () => {
    const current = key('current', 'ES256', 'kept', minutes(-300), minutes(40));
    const leaving = key('leaving', 'ES256', 'lost', minutes(-100), minutes(20));
    expect(keyCarryingOn([current, leaving], 'lost', 'ES256', now)).toBeUndefined();
    const pending = key('pending', 'ES256', 'lost', minutes(5), minutes(60));
    const later = key('later', 'ES256', 'kept', minutes(6), null);
    expect(keyCarryingOn([current, pending, later], 'lost', 'ES256', now)).toBeUndefined();
    const givenUpToo = key('given-up', 'ES256', 'lost', minutes(7), null);
    expect(keyCarryingOn([current, later, givenUpToo], 'lost', 'ES256', now)).toBeUndefined();
  });

  it('is none when nothing else of the algorithm is usable (a new key is made then), or nothing was given up', () => {
    const retired = key('retired', 'ES256', 'kept', minutes(-900), minutes(-1));
    const pending = key('pending', 'ES256', 'lost', minutes(5), null);
    expect(keyCarryingOn([retired, pending], 'lost', 'ES256', now)).toBeUndefined();
    const current = key('current', 'ES256', 'kept', minutes(-300), minutes(40));
    expect(keyCarryingOn([current], 'lost', 'ES256', now)).toBeUndefined();
  });
});
