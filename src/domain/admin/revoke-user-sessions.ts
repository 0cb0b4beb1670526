import type { AuthDeps } from '../auth/deps';
import { findUserByEmail } from './find-user-by-email';

/** Ends every session of the user now (`admin revoke-sessions`). */
export async function revokeUserSessions(deps: Pick<AuthDeps, 'users' | 'sessions' | 'clock' | 'audit'>, email: string) {
  const user = await findUserByEmail(deps.users, email);
  const ended = await deps.sessions.revokeAllOfUser(user.id, 'admin', deps.clock.now());
  deps.audit('sessions revoked', { userId: user.id, endedSessions: ended.length });
  return ended;
}
