import type { AuthDeps } from '../auth/deps';
import { findUserByEmail } from './find-user-by-email';

type Deps = Pick<AuthDeps, 'users' | 'sessions' | 'clock' | 'audit'>;

/**
 * A disabled user cannot log in or refresh, and every session ends now, in the same transaction:
 * a disabling that fails changes nothing, and running it again does both.
 */
export async function disableUser(deps: Deps, email: string) {
  const user = await findUserByEmail(deps.users, email);
  const ended = await deps.sessions.disableUser(user.id, deps.clock.now());
  deps.audit('user disabled', { userId: user.id, endedSessions: ended.length });
  return ended;
}

export async function enableUser(deps: Deps, email: string) {
  const user = await findUserByEmail(deps.users, email);
  await deps.users.setDisabled(user.id, null);
  deps.audit('user enabled', { userId: user.id });
}
