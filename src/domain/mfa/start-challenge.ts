import { randomUUID } from 'node:crypto';
import { addSeconds } from '../clock';
import type { AuthDeps } from '../auth/deps';
import type { UserRecord } from '../ports';
import { hashOpaqueToken, newOpaqueToken } from '../tokens';

/**
 * The second step of a login: an opaque single-use token bound to this user and this login,
 * stored only as a hash. It is no access token (not a JWT) and no refresh token (another table).
 * It keeps the session epoch the password was checked in: once the user's sessions are ended
 * (a password change, logoutAll), it can no longer start one.
 */
export async function startMfaChallenge(
  deps: Pick<AuthDeps, 'mfa' | 'clock' | 'settings'>,
  user: Pick<UserRecord, 'id' | 'sessionEpoch'>,
) {
  const now = deps.clock.now();
  const mfaToken = newOpaqueToken();
  const expiresAt = addSeconds(now, deps.settings.mfa.challengeTtl);
  await deps.mfa.createChallenge({
    id: randomUUID(),
    userId: user.id,
    sessionEpoch: user.sessionEpoch,
    tokenHash: hashOpaqueToken(mfaToken),
    createdAt: now,
    expiresAt,
  });
  return { mfaToken, expiresAt };
}
