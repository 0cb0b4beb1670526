import type { Clock } from '../clock';
import type { EncryptionKeyHistory } from '../ports';
import type { SecretBox } from './secret-box';

/**
 * Records the first ENCRYPTION_KEYS entry as the current key (unless it has been before) and
 * returns the keys made current since it was, most recent first. Any means this instance puts
 * first a key that another instance, or `reencrypt`, has since replaced: an out-of-date
 * ENCRYPTION_KEYS (a deployment rolled back, an old copy of the settings) or a rollout still
 * under way. What it seals, instances that have dropped that key cannot open. The secrets
 * stored cannot tell this apart from a rotation begun: in both, the first key seals none of them yet.
 */
export function findLaterCurrentKeys(deps: { keyHistory: EncryptionKeyHistory; box: SecretBox; clock: Clock }) {
  return deps.keyHistory.recordCurrent(deps.box.currentKeyId, deps.clock.now());
}

/** What an ENCRYPTION_KEYS that puts `current` first, behind `later` (findLaterCurrentKeys), is told. */
export const keyReplacedSince = (current: string, later: Array<{ keyId: string }>) =>
  `ENCRYPTION_KEYS puts "${current}" first, which ${later.map((k) => `"${k.keyId}"`).join(', ')} replaced as the current key`;
