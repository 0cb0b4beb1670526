import type { Audit } from '../audit';
import type { Clock } from '../clock';
import { addSeconds } from '../clock';
import type { SecretBox } from '../crypto/secret-box';
import type { SigningKeyStore, StoredSigningKey } from '../ports';
import { isUsable, keyAdded } from './key-ring';
import { prepareRotation, type RotationSettings } from './rotate-signing-key';

/**
 * KEY_ROTATION_DAYS: rotates when the newest usable key of the algorithm is older than `days`
 * (a newer one retired already, given up by forget-encryption-key, does not count). Every
 * instance asks at each key reload; the store's lock and check let exactly one of them rotate,
 * which audits the key it added ('signing key added', by the gateway, reason key_rotation_days).
 */
export async function rotateSigningKeyIfDue(
  deps: { signingKeys: SigningKeyStore; box: SecretBox; clock: Clock; audit: Audit },
  settings: RotationSettings,
  days: number,
): Promise<StoredSigningKey | null> {
  const now = deps.clock.now();
  const dueSince = addSeconds(now, -days * 86_400);
  const keys = await deps.signingKeys.list();
  if (keys.some((k) => isUsable(k, settings.alg, now) && k.createdAt > dueSince)) return null;
  const { candidate, retireOthersAt } = await prepareRotation(deps, settings, now);
  if (!(await deps.signingKeys.addRotation(candidate, retireOthersAt, dueSince))) return null;
  deps.audit('signing key added', { by: 'gateway', reason: 'key_rotation_days', ...keyAdded(candidate) });
  return candidate;
}
