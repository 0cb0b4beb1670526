import type { Audit } from '../audit';
import type { Clock } from '../clock';
import { addSeconds } from '../clock';
import type { SecretBox } from '../crypto/secret-box';
import type { SigningKeyStore, StoredSigningKey } from '../ports';
import { byActivation, generateStoredKey, isRetired, isUsable, keyAdded, signingKeyAt, type SigningAlg } from './key-ring';
import { CLOCK_SKEW_SECONDS } from './verify-access-token';

export interface RotationSettings {
  alg: SigningAlg;
  /** Seconds a new key is published before it signs (longer than any JWKS cache). */
  publishAhead: number;
  accessTokenTtl: number;
  /** KEY_RELOAD_SECONDS: how late an instance may learn of the new key (see prepareRotation). */
  reloadSeconds: number;
}

/**
 * Key rotation without downtime: the new key is published at once and signs only after
 * KEY_PUBLISH_AHEAD, when every verifier's cached key set has it (every instance switches at
 * that moment, see KeyRing); the previous keys stay published until every token they signed
 * has expired (ACCESS_TOKEN_TTL + skew + one reload period, see prepareRotation), then leave.
 * Audited ('signing key added').
 */
export async function rotateSigningKey(
  deps: { signingKeys: SigningKeyStore; box: SecretBox; clock: Clock; audit: Audit },
  settings: RotationSettings,
): Promise<StoredSigningKey> {
  const { candidate, retireOthersAt } = await prepareRotation(deps, settings, deps.clock.now());
  await deps.signingKeys.addRotation(candidate, retireOthersAt);
  deps.audit('signing key added', keyAdded(candidate));
  return candidate;
}

/**
 * When every token a key may still sign until `signsUntil` has expired: ACCESS_TOKEN_TTL and the
 * skew after it, plus one reload period for an instance whose reload failed once.
 */
export const lastTokenExpiry = (signsUntil: Date, settings: Pick<RotationSettings, 'accessTokenTtl' | 'reloadSeconds'>) =>
  addSeconds(signsUntil, settings.accessTokenTtl + CLOCK_SKEW_SECONDS + settings.reloadSeconds);

/**
 * The next key (signing after publishAhead) and when the keys it replaces leave the set.
 *
 * An instance that has loaded the new key switches at activatesAt, so ACCESS_TOKEN_TTL + skew
 * would do if every reload succeeded. The reload period is added for one that fails ("signing
 * keys not reloaded"): publishAhead >= reloadSeconds + 300, so an instance's next reload comes
 * at most reloadSeconds - 300 s after activatesAt, and the old-key tokens it signs until then
 * expire before the old key leaves. (Without it, with KEY_RELOAD_SECONDS near
 * KEY_PUBLISH_AHEAD - 300, one failed reload would leave an instance signing with the old key
 * well past the switch, and those tokens would be refused once the old key left.)
 */
export async function prepareRotation(deps: { box: SecretBox }, settings: RotationSettings, now: Date) {
  const candidate = await generateStoredKey(deps.box, settings.alg, now);
  candidate.activatesAt = addSeconds(now, settings.publishAhead);
  const retireOthersAt = lastTokenExpiry(candidate.activatesAt, settings);
  return { candidate, retireOthersAt };
}

export type KeyState = 'pending' | 'signing' | 'published' | 'retiring' | 'retired';

/**
 * Each key's state at `now`, newest first, for `npm run admin -- keys list`. "signing" is the key
 * every instance's KeyRing signs with at `now` (signingKeyAt), also when none has activated yet.
 * "published": in the JWKS, signing nothing, and leaving at no set time (a key of the previous
 * JWT_ALG, until `keys retire`); "retiring": the same with its time to leave set.
 */
export function describeKeys(keys: StoredSigningKey[], alg: string, now: Date) {
  const signingKid = signingKeyAt(keys.filter((k) => isUsable(k, alg, now)).sort(byActivation), now)?.kid;
  return [...keys]
    .sort((a, b) => +b.activatesAt - +a.activatesAt)
    .map((k) => {
      const state: KeyState =
        isRetired(k, now)
          ? 'retired'
          : k.kid === signingKid
            ? 'signing'
            : k.activatesAt > now
              ? 'pending'
              : k.retiresAt === null
                ? 'published'
                : 'retiring';
      return { kid: k.kid, alg: k.alg, state, activatesAt: k.activatesAt, retiresAt: k.retiresAt };
    });
}
