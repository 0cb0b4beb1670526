import { BadUserInputError } from '../../errors';
import type { AuthDeps } from '../auth/deps';
import type { SecretBox } from '../crypto/secret-box';
import type { SigningKeyStore } from '../ports';
import { isRetired, keyCarryingOn } from '../tokens/key-ring';
import { removeMfa } from './reset-mfa';

type Deps = Pick<AuthDeps, 'users' | 'mfa' | 'revocations' | 'clock' | 'audit'> & { signingKeys: SigningKeyStore; box: SecretBox };

/** What is sealed under a key id: what forgetting it gives up. */
export interface SealedUnderKey {
  /** Signing keys not yet retired (pending, signing or retiring). */
  signingKeys: string[];
  /** The key that signs on in place of one of those, no longer retiring (keyCarryingOn), if any. */
  carriedOnBy: string | null;
  /** Users whose confirmed TOTP factor it seals: their MFA is turned off. */
  mfaUsers: string[];
  /** Users whose pending enrolment it seals: the enrolment is removed. */
  pendingUsers: string[];
  /** Sessions ended (those of `mfaUsers`); 0 until applied. */
  endedSessions: number;
}

/**
 * The way out when an ENCRYPTION_KEYS key is lost for good, which the server refuses to start
 * without while secrets in use are sealed under it: those secrets are given up. Signing keys
 * sealed under it retire now (the tokens they signed are refused from then on; clients refresh,
 * and a new key is made if none is left; a key that a pending one among them was to replace signs
 * on instead, keyCarryingOn); TOTP factors sealed under it are removed, and for a
 * confirmed one the user's sessions end (resetMfa). With `apply` false, only says what that
 * would be. `alg`: JWT_ALG, the algorithm the gateway signs with. Refused for a key
 * ENCRYPTION_KEYS has: nothing sealed under it is lost.
 * Meant for while the servers refuse to start; a user who enrols again between the listing and
 * the removal keeps that new enrolment (sealed under another key).
 */
export async function forgetEncryptionKey(deps: Deps, keyId: string, { apply, alg }: { apply: boolean; alg: string }): Promise<SealedUnderKey> {
  if (deps.box.has(keyId)) {
    throw new BadUserInputError(
      `the encryption keys in use (ENCRYPTION_KEYS, or in development the keys file) have the key "${keyId}": nothing sealed under it is lost; run reencrypt, then drop it from them`,
      'keyId',
    );
  }
  const now = deps.clock.now();
  const factors = await deps.mfa.listSealedUnder(keyId);
  const pendingUsers = factors.filter((f) => !f.confirmed).map((f) => f.userId);
  const mfaUsers = factors.filter((f) => f.confirmed).map((f) => f.userId);
  if (!apply) {
    const keys = await deps.signingKeys.list();
    const unretired = keys.filter((k) => k.encryptionKeyId === keyId && !isRetired(k, now));
    const carriedOnBy = keyCarryingOn(keys, keyId, alg, now)?.kid ?? null;
    return { signingKeys: unretired.map((k) => k.kid), carriedOnBy, mfaUsers, pendingUsers, endedSessions: 0 };
  }
  const { retired: signingKeys, carriedOnBy } = await deps.signingKeys.retireSealedUnder(keyId, now, alg);
  let endedSessions = 0;
  // As removed, not as listed: a factor replaced meanwhile (one under another key) stays.
  const removed = { mfaUsers: [] as string[], pendingUsers: [] as string[] };
  for (const f of factors) {
    const outcome = await removeMfa(deps, f.userId, 'encryption key forgotten', keyId);
    if (outcome.removed) (outcome.wasOn ? removed.mfaUsers : removed.pendingUsers).push(f.userId);
    endedSessions += outcome.ended.length;
  }
  // Nothing sealed under it: nothing given up, nothing to audit.
  if (signingKeys.length > 0 || factors.length > 0) {
    deps.audit('encryption key forgotten', {
      keyId,
      retiredSigningKeys: signingKeys,
      ...(carriedOnBy && { signingKeyKept: carriedOnBy }),
      mfaReset: removed.mfaUsers.length,
      pendingRemoved: removed.pendingUsers.length,
    });
  }
  return { signingKeys, carriedOnBy, ...removed, endedSessions };
}
