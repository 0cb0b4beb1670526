import type { AuthDeps } from './deps';
import { changeRoles, validateRoles } from './change-roles';

/** Replaces a user's roles (the admin mutation); `adminId` is the caller. */
export async function setUserRoles(deps: Pick<AuthDeps, 'users' | 'sessions' | 'clock' | 'audit'>, userId: string, roles: string[], adminId: string) {
  const wanted = validateRoles(roles);
  return (await changeRoles(deps, userId, () => wanted, adminId)).user;
}
