import type { Clock } from '../clock';
import { addSeconds } from '../clock';
import type { SecretBox } from '../crypto/secret-box';
import type { SigningKeyStore, StoredSigningKey } from '../ports';
import { generateStoredKey, type SigningAlg } from './key-ring';
import { CLOCK_SKEW_SECONDS } from './verify-access-token';

export interface RotationSettings {
  alg: SigningAlg;
  /** Seconds a new key is published before it signs (longer than any JWKS cache). */
  publishAhead: number;
  accessTokenTtl: number;
}

/**
 * Key rotation without downtime: the new key is published at once and signs only after
 * KEY_PUBLISH_AHEAD, when every verifier's cached key set has it; the previous keys stay
 * published until every token they signed has expired (ACCESS_TOKEN_TTL + skew), then leave.
 */
export async function rotateSigningKey(
  deps: { signingKeys: SigningKeyStore; box: SecretBox; clock: Clock },
  settings: RotationSettings,
): Promise<StoredSigningKey> {
  const { candidate, retireOthersAt } = await prepareRotation(deps, settings, deps.clock.now());
  await deps.signingKeys.addRotation(candidate, retireOthersAt);
  return candidate;
}

/** The next key (signing after publishAhead) and when the keys it replaces leave the set. */
export async function prepareRotation(deps: { box: SecretBox }, settings: RotationSettings, now: Date) {
  const candidate = await generateStoredKey(deps.box, settings.alg, now);
  candidate.activatesAt = addSeconds(now, settings.publishAhead);
  return { candidate, retireOthersAt: addSeconds(candidate.activatesAt, settings.accessTokenTtl + CLOCK_SKEW_SECONDS) };
}

export type KeyState = 'pending' | 'signing' | 'retiring' | 'retired';

/** Each key's state at `now`, newest first, for `npm run admin -- keys list`. */
export function describeKeys(keys: StoredSigningKey[], alg: string, now: Date) {
  const activated = keys.filter((k) => k.alg === alg && k.activatesAt <= now && (k.retiresAt === null || k.retiresAt > now));
  const signingKid = activated.sort((a, b) => +a.activatesAt - +b.activatesAt).at(-1)?.kid;
  return [...keys]
    .sort((a, b) => +b.activatesAt - +a.activatesAt)
    .map((k) => {
      const state: KeyState =
        k.retiresAt !== null && k.retiresAt <= now
          ? 'retired'
          : k.activatesAt > now
            ? 'pending'
            : k.kid === signingKid
              ? 'signing'
              : 'retiring';
      return { kid: k.kid, alg: k.alg, state, activatesAt: k.activatesAt, retiresAt: k.retiresAt };
    });
}
