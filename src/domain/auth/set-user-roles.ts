import { BadUserInputError } from '../../errors';
import type { AuthDeps } from './deps';

const ROLE = /^[a-z][a-z0-9_:-]{0,63}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function validateRoles(roles: string[]): string[] {
  for (const role of roles) {
    if (!ROLE.test(role)) {
      throw new BadUserInputError('Roles are lowercase: a letter, then letters, digits, _ : or -.', 'roles');
    }
  }
  return [...new Set(roles)].sort();
}

/**
 * Replaces a user's roles. New roles reach tokens at the user's next refresh (refresh re-reads
 * them); removing any role also ends the user's sessions, so no token keeps a removed role
 * past its short lifetime.
 */
export async function setUserRoles(deps: Pick<AuthDeps, 'users' | 'sessions' | 'clock'>, userId: string, roles: string[]) {
  const wanted = validateRoles(roles);
  const before = UUID.test(userId) ? await deps.users.findById(userId) : null;
  if (!before) throw new BadUserInputError('Unknown user.', 'userId');
  const after = await deps.users.setRoles(userId, wanted);
  if (!after) throw new BadUserInputError('Unknown user.', 'userId');
  if (before.roles.some((r) => !wanted.includes(r))) {
    await deps.sessions.revokeAllOfUser(userId, 'roles_removed', deps.clock.now());
  }
  return after;
}
