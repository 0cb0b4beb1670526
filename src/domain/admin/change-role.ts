import { setUserRoles } from '../auth/set-user-roles';
import type { AuthDeps } from '../auth/deps';
import { findUserByEmail } from './find-user-by-email';

type Deps = Pick<AuthDeps, 'users' | 'sessions' | 'clock'>;

export async function grantRole(deps: Deps, email: string, role: string) {
  const user = await findUserByEmail(deps.users, email);
  return setUserRoles(deps, user.id, [...user.roles, role]);
}

/** Removing a role ends the user's sessions (see setUserRoles). */
export async function revokeRole(deps: Deps, email: string, role: string) {
  const user = await findUserByEmail(deps.users, email);
  return setUserRoles(
    deps,
    user.id,
    user.roles.filter((r) => r !== role),
  );
}
