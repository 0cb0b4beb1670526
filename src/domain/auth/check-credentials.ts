import { InvalidCredentialsError, ServiceUnavailableError } from '../../errors';
import type { HashReservation } from '../passwords/hash-admission';
import type { UserRecord } from '../ports';
import type { AuthDeps, ClientInfo } from './deps';
import { normalizeEmail } from './normalize-email';
import { clientKey } from '../throttle';

/**
 * The one place where a password is checked against an account (login, changePassword, and
 * later MFA enrolment), inside the brute-force throttle. An unknown email, a wrong password
 * and a disabled account give the same error after the same work (a dummy verification for
 * unknown emails) and count the same. A weaker stored hash is replaced on success. Each failed
 * check writes one audit line ('password rejected', the same single call on every path: no read
 * is added for it), with the account's id when there is one and otherwise only the client address.
 *
 * While password hashing is saturated the check is refused at once with SERVICE_UNAVAILABLE,
 * before any rate-limit point is taken or the account looked up. Otherwise the place in line is
 * taken inside the throttle, after the limits admitted the attempt: a client that is already
 * rate-limited never holds a place others need. A shed there is not a failed check, so the
 * throttle gives its points back: an overloaded gateway spends nobody's budget, and known and
 * unknown emails (the dummy verification waits in the same line) are refused alike.
 */
export async function checkCredentials(
  deps: Pick<AuthDeps, 'users' | 'hasher' | 'throttle' | 'audit'>,
  email: string,
  password: string,
  client: ClientInfo,
  operation: 'login' | 'changePassword' | 'enrollMfa',
): Promise<UserRecord> {
  const hashing = clientKey(client.ip);
  deps.hasher.assertAdmissible(hashing);
  return deps.throttle.guardLogin(
    email,
    client.ip,
    (error) => error instanceof InvalidCredentialsError,
    async () => {
      const place = deps.hasher.reserve(hashing);
      try {
        return await verifyPassword(deps, email, password, place, (reason, userId) => {
          deps.audit('password rejected', { operation, reason, ...(userId && { userId }), ip: client.ip });
          return new InvalidCredentialsError(operation === 'login' ? 'email and password' : 'password');
        });
      } finally {
        place.release();
      }
    },
  );
}

type Rejection = 'unknown_email' | 'wrong_password' | 'disabled';

async function verifyPassword(
  deps: Pick<AuthDeps, 'users' | 'hasher'>,
  email: string,
  password: string,
  place: HashReservation,
  /** Records the rejection; returns the error to throw. */
  rejected: (reason: Rejection, userId?: string) => InvalidCredentialsError,
): Promise<UserRecord> {
  let normalized: string;
  try {
    normalized = normalizeEmail(email);
  } catch {
    await deps.hasher.verifyAgainstDummy(password, place);
    throw rejected('unknown_email');
  }
  const user = await deps.users.findByEmail(normalized);
  const ok = user
    ? await deps.hasher.verify(user.passwordHash, password, place)
    : await deps.hasher.verifyAgainstDummy(password, place);
  if (!user || !ok || user.disabled) {
    throw rejected(!user ? 'unknown_email' : user.disabled ? 'disabled' : 'wrong_password', user?.id);
  }
  if (deps.hasher.needsRehash(user.passwordHash)) await rehash(deps, user, password);
  return user;
}

/**
 * Best effort: while hashing is saturated the upgrade waits for a later login. Written only over
 * the hash that was checked: a password changed meanwhile stays changed.
 */
async function rehash(deps: Pick<AuthDeps, 'users' | 'hasher'>, user: UserRecord, password: string) {
  let passwordHash: string;
  try {
    passwordHash = await deps.hasher.hash(password);
  } catch (error) {
    if (error instanceof ServiceUnavailableError) return;
    throw error;
  }
  await deps.users.replacePasswordHash(user.id, user.passwordHash, passwordHash);
}
