import { InvalidCredentialsError } from '../../errors';
import type { UserRecord } from '../ports';
import type { AuthDeps } from './deps';
import { normalizeEmail } from './normalize-email';

/**
 * The one place where a password is checked against an account (login, changePassword, and
 * later MFA enrolment); the brute-force limiter wraps this. An unknown email, a wrong password
 * and a disabled account give the same error after the same work (a dummy verification for
 * unknown emails). A hash made with other argon2 parameters is replaced on success.
 */
export async function checkCredentials(
  deps: Pick<AuthDeps, 'users' | 'hasher'>,
  email: string,
  password: string,
): Promise<UserRecord> {
  let normalized: string;
  try {
    normalized = normalizeEmail(email);
  } catch {
    await deps.hasher.verifyAgainstDummy(password);
    throw new InvalidCredentialsError();
  }
  const user = await deps.users.findByEmail(normalized);
  const ok = user ? await deps.hasher.verify(user.passwordHash, password) : await deps.hasher.verifyAgainstDummy(password);
  if (!user || !ok || user.disabled) throw new InvalidCredentialsError();
  if (deps.hasher.needsRehash(user.passwordHash)) {
    await deps.users.updatePasswordHash(user.id, await deps.hasher.hash(password));
  }
  return user;
}
