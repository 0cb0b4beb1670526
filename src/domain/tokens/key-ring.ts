/**
 * The gateway's JWT signing keys. Every instance shares them through the database; the private
 * half is stored only sealed by the SecretBox. On first start one instance generates the key
 * (serialised by the store), the others load it.
 */
import { KeyObject } from 'node:crypto';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
} from 'jose';
import type { Clock } from '../clock';
import type { SecretBox } from '../crypto/secret-box';
import type { SigningKeyStore, StoredSigningKey } from '../ports';

export type SigningAlg = 'ES256' | 'EdDSA' | 'RS256';

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  privateKey: CryptoKey;
  /** The same key for node:crypto, which signs synchronously (see signAccessToken). */
  keyObject: KeyObject;
}

/**
 * A JWK's members in one order, whoever loaded it (the database's jsonb reorders them; a key
 * just generated has exportJWK's order): every instance publishes the same bytes, one ETag.
 */
const canonicalJwk = (jwk: JWK): JWK => Object.fromEntries(Object.entries(jwk).sort(([a], [b]) => (a < b ? -1 : 1)));

export class KeyRing {
  /**
   * The published key ids, sorted: two rings with the same one verify exactly the same tokens
   * (a kid is the key's thumbprint), so what was verified under one holds under the other.
   */
  readonly verificationId: string;

  private constructor(
    readonly signing: SigningKey,
    readonly jwks: JSONWebKeySet,
    readonly verificationKeys: ReturnType<typeof createLocalJWKSet>,
  ) {
    this.verificationId = jwks.keys.map((k) => k.kid ?? '').sort().join(' ');
  }

  static async load(store: SigningKeyStore, box: SecretBox, clock: Clock, alg: SigningAlg): Promise<KeyRing> {
    const now = clock.now();
    let keys = await store.list();
    if (!keys.some((k) => isUsable(k, alg, now))) {
      keys = await store.insertIfNoneUsable(await generateStoredKey(box, alg, now), now);
    }
    const current = signingKeyOf(keys, alg, now);
    if (!current) throw new Error(`No ${alg} signing key could be created`);
    const privateJwk = JSON.parse(
      box.open({ ciphertext: current.privateKeyCiphertext, keyId: current.encryptionKeyId }, current.kid),
    ) as JWK;
    const privateKey = (await importJWK(privateJwk, alg)) as CryptoKey;
    const published = keys.filter((k) => k.retiresAt === null || k.retiresAt > now);
    const jwks: JSONWebKeySet = { keys: published.map((k) => canonicalJwk(k.publicJwk as JWK)) };
    return new KeyRing({ kid: current.kid, alg, privateKey, keyObject: KeyObject.from(privateKey) }, jwks, createLocalJWKSet(jwks));
  }
}

/** Not retired. Activation time is ignored on purpose: instances with skewed clocks must agree. */
export const isUsable = (k: StoredSigningKey, alg: string, now: Date) =>
  k.alg === alg && (k.retiresAt === null || k.retiresAt > now);

/** The newest usable key that has activated, else (clock skew) the oldest usable one. */
function signingKeyOf(keys: StoredSigningKey[], alg: string, now: Date) {
  const usable = keys.filter((k) => isUsable(k, alg, now)).sort((a, b) => +a.activatesAt - +b.activatesAt);
  return usable.filter((k) => k.activatesAt <= now).at(-1) ?? usable[0];
}

export async function generateStoredKey(box: SecretBox, alg: SigningAlg, now: Date): Promise<StoredSigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const sealed = box.seal(JSON.stringify(await exportJWK(privateKey)), kid);
  return {
    kid,
    alg,
    // Public members only: exportJWK of a public key has no private parts.
    publicJwk: { ...publicJwk, kid, alg, use: 'sig' },
    privateKeyCiphertext: sealed.ciphertext,
    encryptionKeyId: sealed.keyId,
    createdAt: now,
    activatesAt: now,
    retiresAt: null,
  };
}
