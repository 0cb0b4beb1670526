import { InvalidCredentialsError, ServiceUnavailableError } from '../../errors';
import type { HashReservation } from '../passwords/hash-admission';
import type { UserRecord } from '../ports';
import type { AuthDeps, ClientInfo } from './deps';
import { canonicalEmail } from './normalize-email';
import { clientKey } from '../throttle';

/**
 * The one place where a password is checked against an account (login, changePassword and
 * MFA enrolment), inside the brute-force throttle. An unknown email, a wrong password
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
  who: { email: string } | { account: UserRecord },
  password: string,
  client: ClientInfo,
  operation: 'login' | 'changePassword' | 'enrollMfa',
): Promise<UserRecord> {
  const hashing = clientKey(client.ip);
  deps.hasher.assertAdmissible(hashing);
  // Counted under one spelling of the address, whichever the client sent (what is no address
  // as it came). A signed-in user's own account is checked as it is, never looked up again by
  // its address.
  const canonical = 'account' in who ? null : canonicalEmail(who.email);
  const counted = 'account' in who ? who.account.email : (canonical ?? who.email);
  return deps.throttle.guardLogin(
    counted,
    client.ip,
    (error) => error instanceof InvalidCredentialsError,
    async () => {
      const place = deps.hasher.reserve(hashing);
      try {
        const account = 'account' in who ? who.account : canonical ? await deps.users.findByEmail(canonical) : null;
        return await verifyPassword(deps, account, password, place, (reason, userId) => {
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

/** An unknown account (null) gets the same work as a wrong password: a dummy verification. */
async function verifyPassword(
  deps: Pick<AuthDeps, 'users' | 'hasher'>,
  user: UserRecord | null,
  password: string,
  place: HashReservation,
  /** Records the rejection; returns the error to throw. */
  rejected: (reason: Rejection, userId?: string) => InvalidCredentialsError,
): Promise<UserRecord> {
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
