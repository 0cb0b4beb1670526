import { randomUUID } from 'node:crypto';
import { WeakPasswordError } from '../../errors';
import { checkPasswordPolicy } from '../passwords/check-password-policy';
import type { AuthDeps, ClientInfo } from './deps';
import { normalizeEmail } from './normalize-email';

export const DEFAULT_ROLES = ['user'];

/**
 * Always `true` for an acceptable password, whether the email is new or taken (no account
 * enumeration): the policy is checked first, the password is hashed on both paths, and an
 * existing account is left untouched.
 */
export async function register(
  deps: Pick<AuthDeps, 'users' | 'hasher' | 'clock' | 'settings' | 'throttle'>,
  input: { email: string; password: string },
  client: ClientInfo,
): Promise<true> {
  const reasons = checkPasswordPolicy(input.password, deps.settings.passwordPolicy);
  if (reasons.length > 0) throw new WeakPasswordError(reasons);
  const email = normalizeEmail(input.email);
  await deps.throttle.register(client.ip);
  const passwordHash = await deps.hasher.hash(input.password);
  await deps.users.insertIfAbsent({
    id: randomUUID(),
    email,
    passwordHash,
    roles: DEFAULT_ROLES,
    createdAt: deps.clock.now(),
  });
  return true;
}
