import type { AuthDeps } from './deps';
import type { RoleChanger } from '../ports';
import { changeRoles, validateRoles } from './change-roles';

/** Replaces a user's roles (the admin mutation); `admin` is the caller (see changeRoles). */
export async function setUserRoles(deps: Pick<AuthDeps, 'sessions' | 'clock' | 'audit'>, userId: string, roles: string[], admin: RoleChanger) {
  const wanted = validateRoles(roles);
  return (await changeRoles(deps, userId, () => wanted, admin)).user;
}
