import { InvalidCredentialsError } from '../../errors';
import type { UserRecord } from '../ports';
import type { AuthDeps, ClientInfo } from './deps';
import { normalizeEmail } from './normalize-email';

/**
 * The one place where a password is checked against an account (login, changePassword, and
 * later MFA enrolment), inside the brute-force throttle. An unknown email, a wrong password
 * and a disabled account give the same error after the same work (a dummy verification for
 * unknown emails) and count the same. A weaker stored hash is replaced on success.
 */
export function checkCredentials(
  deps: Pick<AuthDeps, 'users' | 'hasher' | 'throttle'>,
  email: string,
  password: string,
  client: ClientInfo,
): Promise<UserRecord> {
  return deps.throttle.guardLogin(
    email,
    client.ip,
    (error) => error instanceof InvalidCredentialsError,
    () => verifyPassword(deps, email, password),
  );
}

async function verifyPassword(
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
