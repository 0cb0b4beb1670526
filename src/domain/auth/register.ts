import { randomUUID } from 'node:crypto';
import { acceptNewPassword } from '../passwords/check-password-policy';
import type { AuthDeps, ClientInfo } from './deps';
import { normalizeEmail } from './normalize-email';
import { clientKey } from '../throttle';

const DEFAULT_ROLES = ['user'];

/**
 * Always `true` for an acceptable password, whether the email is new or taken (no account
 * enumeration): the policy is checked first, the password is hashed on both paths, and an
 * existing account is left untouched. Its place in line for the hash is taken first: while
 * password hashing is saturated a registration is refused (SERVICE_UNAVAILABLE) before it is
 * counted against the client. A new account is audited; the answer is the same either way.
 */
export async function register(
  deps: Pick<AuthDeps, 'users' | 'hasher' | 'clock' | 'settings' | 'throttle' | 'audit'>,
  input: { email: string; password: string },
  client: ClientInfo,
): Promise<true> {
  acceptNewPassword(input.password, deps.settings.passwordPolicy, 'password');
  const email = normalizeEmail(input.email);
  const place = deps.hasher.reserve(clientKey(client.ip));
  let passwordHash: string;
  try {
    await deps.throttle.register(client.ip);
    passwordHash = await deps.hasher.hash(input.password, place);
  } finally {
    place.release();
  }
  const id = randomUUID();
  const created = await deps.users.insertIfAbsent({ id, email, passwordHash, roles: DEFAULT_ROLES, createdAt: deps.clock.now() });
  if (created) deps.audit('user registered', { userId: id, ip: client.ip });
  return true;
}
