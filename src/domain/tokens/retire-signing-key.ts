import { BadUserInputError } from '../../errors';
import type { Audit } from '../audit';
import type { Clock } from '../clock';
import type { SigningKeyStore, StoredSigningKey } from '../ports';
import { lastTokenExpiry, type RotationSettings } from './rotate-signing-key';

/**
 * After a change of JWT_ALG, once every instance signs with the new algorithm: the previous
 * algorithm's key leaves the JWKS (and stops requiring its ENCRYPTION_KEYS entry) when the last
 * token it may have signed has expired, as a rotated-out key does. A key of the algorithm this
 * setting signs with is refused: `keys rotate` replaces those. Null when it was retiring already;
 * otherwise audited ('signing key retired').
 */
export async function retireSigningKey(
  deps: { signingKeys: SigningKeyStore; clock: Clock; audit: Audit },
  settings: Pick<RotationSettings, 'alg' | 'accessTokenTtl' | 'reloadSeconds'>,
  kid: string,
): Promise<{ key: StoredSigningKey; retiresAt: Date } | null> {
  const key = (await deps.signingKeys.list()).find((k) => k.kid === kid);
  if (!key) throw new BadUserInputError(`No signing key with kid ${kid}.`, 'kid');
  if (key.alg === settings.alg) {
    throw new BadUserInputError(`${kid} is a ${key.alg} key, the algorithm JWT_ALG signs with: replace it with keys rotate instead.`, 'kid');
  }
  const retiresAt = lastTokenExpiry(deps.clock.now(), settings);
  if (!(await deps.signingKeys.scheduleRetirement(kid, retiresAt))) return null;
  deps.audit('signing key retired', { kid, alg: key.alg, retiresAt });
  return { key, retiresAt };
}
