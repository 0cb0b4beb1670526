import type { AuthDeps } from '../auth/deps';
import { findUserByEmail } from './find-user-by-email';

type Deps = Pick<AuthDeps, 'users' | 'sessions' | 'clock'>;

/** A disabled user cannot log in or refresh, and every session ends now. */
export async function disableUser(deps: Deps, email: string) {
  const user = await findUserByEmail(deps.users, email);
  const now = deps.clock.now();
  await deps.users.setDisabled(user.id, now);
  return deps.sessions.revokeAllOfUser(user.id, 'user_disabled', now);
}

export async function enableUser(deps: Deps, email: string) {
  const user = await findUserByEmail(deps.users, email);
  await deps.users.setDisabled(user.id, null);
}

export async function revokeUserSessions(deps: Deps, email: string) {
  const user = await findUserByEmail(deps.users, email);
  return deps.sessions.revokeAllOfUser(user.id, 'admin', deps.clock.now());
}
