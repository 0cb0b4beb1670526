import { changeRoles, validateRoles } from '../auth/change-roles';
import type { AuthDeps } from '../auth/deps';
import { findUserByEmail } from './find-user-by-email';

type Deps = Pick<AuthDeps, 'users' | 'sessions' | 'clock' | 'audit'>;

export async function grantRole(deps: Deps, email: string, role: string) {
  validateRoles([role]);
  const user = await findUserByEmail(deps.users, email);
  return changeRoles(deps, user.id, (current) => [...current, role]);
}

/** Removing a role ends the user's sessions (see changeRoles). */
export async function revokeRole(deps: Deps, email: string, role: string) {
  validateRoles([role]);
  const user = await findUserByEmail(deps.users, email);
  return changeRoles(deps, user.id, (current) => current.filter((r) => r !== role));
}
