/**
 * The gateway's JWT signing keys. Every instance shares them through the database; the private
 * half is stored only sealed by the SecretBox. On first start one instance generates the key
 * (serialised by the store), the others load it.
 *
 * Which key signs is decided per signature, not per load: a rotated-in key is loaded (and
 * opened) while still pending, so every instance switches to it at its `activatesAt`, whenever it
 * last reloaded. Otherwise an instance would sign with the old key until its next reload, up
 * to KEY_RELOAD_SECONDS past the switch, and its tokens could outlive the old key's retirement.
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
import type { Audit } from '../audit';
import type { Clock } from '../clock';
import type { SecretBox } from '../crypto/secret-box';
import type { SigningKeyStore, StoredSigningKey } from '../ports';

export type SigningAlg = 'ES256' | 'EdDSA' | 'RS256';

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  /** From when it signs (see signingKeyAt). */
  activatesAt: Date;
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
  /**
   * The algorithms of the published keys: a token verifies under the key its `kid` names, with
   * that key's own algorithm (each JWK carries its `alg`, which jose matches), so an instance
   * still on a previous JWT_ALG takes the tokens of instances already on the new one.
   */
  readonly algorithms: string[];

  private constructor(
    /** Oldest activation first: the key signing at load, then every pending one. */
    private readonly signers: readonly SigningKey[],
    readonly jwks: JSONWebKeySet,
    readonly verificationKeys: ReturnType<typeof createLocalJWKSet>,
  ) {
    this.verificationId = jwks.keys.map((k) => k.kid ?? '').sort().join(' ');
    this.algorithms = [...new Set(jwks.keys.map((k) => k.alg!))].sort();
  }

  /** The key that signs at `now`. Per login and refresh: a scan of one to three keys, no allocation. */
  signingKey(now: Date): SigningKey {
    return signingKeyAt(this.signers, now)!;
  }

  /**
   * When none of `alg` could sign (a first start, or a change of JWT_ALG), this load adds a key,
   * audited ('signing key added', by the gateway, reason none_could_sign): it signs at once, and
   * other instances refuse its tokens until they next load the keys.
   */
  static async load(store: SigningKeyStore, box: SecretBox, clock: Clock, alg: SigningAlg, audit: Audit): Promise<KeyRing> {
    const now = clock.now();
    let keys = await store.list();
    if (!keys.some((k) => isUsable(k, alg, now))) {
      const candidate = await generateStoredKey(box, alg, now);
      keys = await store.insertIfNoneUsable(candidate, now);
      // A first start, a change of JWT_ALG, or a reload that finds every key of it retired.
      if (keys.includes(candidate)) {
        audit('signing key added', { by: 'gateway', reason: 'none_could_sign', ...keyAdded(candidate) });
      }
    }
    const usable = keys.filter((k) => isUsable(k, alg, now)).sort(byActivation);
    const current = signingKeyAt(usable, now);
    if (!current) throw new Error(`No ${alg} signing key could be created`);
    // Keys older than the one signing now never sign again (a newer one has activated; should
    // the clock step back, the ring keeps signing with its oldest), so they are not opened. Pending ones are: the start-up check (findMissingEncryptionKeys) requires
    // the ENCRYPTION_KEYS entry of every key not yet retired, and one that cannot be opened fails
    // the reload now, KEY_PUBLISH_AHEAD before it would sign, not at its activation.
    const signers = await Promise.all(usable.slice(usable.indexOf(current)).map((k) => openSigningKey(box, k, alg)));
    const published = keys.filter((k) => !isRetired(k, now));
    // Each key's alg as its row says: jose matches a token's header against it, so no key
    // verifies under another algorithm.
    const jwks: JSONWebKeySet = { keys: published.map((k) => canonicalJwk({ ...(k.publicJwk as JWK), alg: k.alg })) };
    return new KeyRing(signers, jwks, createLocalJWKSet(jwks));
  }
}

async function openSigningKey(box: SecretBox, k: StoredSigningKey, alg: SigningAlg): Promise<SigningKey> {
  const privateJwk = JSON.parse(box.open({ ciphertext: k.privateKeyCiphertext, keyId: k.encryptionKeyId }, k.kid)) as JWK;
  const privateKey = (await importJWK(privateJwk, alg)) as CryptoKey;
  return { kid: k.kid, alg, activatesAt: k.activatesAt, privateKey, keyObject: KeyObject.from(privateKey) };
}

/** The fields of a 'signing key added' line. */
export const keyAdded = (key: Pick<StoredSigningKey, 'kid' | 'alg' | 'activatesAt'>) => ({ kid: key.kid, alg: key.alg, activatesAt: key.activatesAt });

/** Retired at `now`: out of the published set, never to sign or verify again. */
export const isRetired = (k: Pick<StoredSigningKey, 'retiresAt'>, now: Date) => k.retiresAt !== null && k.retiresAt <= now;

/** Of `alg` and not retired. Activation time is ignored on purpose: instances with skewed clocks must agree. */
export const isUsable = (k: StoredSigningKey, alg: string, now: Date) => k.alg === alg && !isRetired(k, now);

export const byActivation = (a: { activatesAt: Date }, b: { activatesAt: Date }) => +a.activatesAt - +b.activatesAt;

/**
 * When the keys sealed under `encryptionKeyId` are given up, the key of the algorithm the
 * gateway signs with (`alg`) that carries it on in their place, if one must: where a key given up
 * was to carry it on (no retirement set: the newest, say a rotation's pending key) and every
 * other usable key of it is leaving (a rotation towards that key was replacing them), the newest
 * of those stays instead. Otherwise it would leave on that rotation's schedule, its tokens refused
 * before they expire, and a key made then would sign without KEY_PUBLISH_AHEAD. Keys of other
 * algorithms leave as scheduled (`keys retire`, or a rotation of a JWT_ALG since changed).
 */
export function keyCarryingOn(keys: StoredSigningKey[], encryptionKeyId: string, alg: string, now: Date): StoredSigningKey | undefined {
  const usable = keys.filter((k) => isUsable(k, alg, now));
  if (!usable.some((k) => k.encryptionKeyId === encryptionKeyId && k.retiresAt === null)) return undefined;
  const left = usable.filter((k) => k.encryptionKeyId !== encryptionKeyId).sort(byActivation);
  return left.every((k) => k.retiresAt !== null) ? left.at(-1) : undefined;
}

/**
 * The key that signs at `now`, of usable keys sorted byActivation: the newest that has
 * activated, else (clock skew: a key made by an instance whose clock runs ahead) the oldest.
 * The ring signs with it and `keys list` calls it signing, so the two agree.
 */
export function signingKeyAt<K extends { activatesAt: Date }>(sorted: readonly K[], now: Date): K | undefined {
  const t = now.getTime();
  for (let i = sorted.length - 1; i >= 0; i--) {
    if (sorted[i]!.activatesAt.getTime() <= t) return sorted[i];
  }
  return sorted[0];
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
