import { BadUserInputError } from '../../errors';
import { isUuid } from '../ids';
import type { AuthDeps } from './deps';

const ROLE = /^[a-z][a-z0-9_:-]{0,63}$/;

export function validateRoles(roles: string[]): string[] {
  for (const role of roles) {
    if (!ROLE.test(role)) {
      throw new BadUserInputError('Roles are lowercase: a letter, then letters, digits, _ : or -.', 'roles');
    }
  }
  return [...new Set(roles)].sort();
}

type Deps = Pick<AuthDeps, 'users' | 'sessions' | 'clock'>;

/**
 * Applies a change to a user's roles atomically. New roles reach tokens at the user's next
 * refresh (refresh re-reads them); removing any role also ends the user's sessions, so no
 * token keeps a removed role past its short lifetime.
 */
export async function changeRoles(deps: Deps, userId: string, change: (current: string[]) => string[]) {
  const result = isUuid(userId)
    ? await deps.users.updateRoles(userId, (current) => validateRoles(change(current)))
    : null;
  if (!result) throw new BadUserInputError('Unknown user.', 'userId');
  if (result.before.some((role) => !result.after.roles.includes(role))) {
    await deps.sessions.revokeAllOfUser(userId, 'roles_removed', deps.clock.now());
  }
  return result.after;
}

/** Replaces a user's roles (the admin mutation). */
export function setUserRoles(deps: Deps, userId: string, roles: string[]) {
  const wanted = validateRoles(roles);
  return changeRoles(deps, userId, () => wanted);
}
