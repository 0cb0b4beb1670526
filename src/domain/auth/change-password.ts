import { UnauthenticatedError } from '../../errors';
import { acceptNewPassword } from '../passwords/check-password-policy';
import { checkCredentials } from './check-credentials';
import type { AuthDeps, ClientInfo, Viewer } from './deps';

/**
 * Needs the current password (checked through checkCredentials, like a login); the new one
 * must pass the policy. Every other session of the user ends; the caller's stays. A change
 * whose caller's session ended while the password was checked (another password change, a
 * logoutAll, a disabling) changes nothing: UNAUTHENTICATED, as the caller's next request would
 * be answered. One overtaken by another change of the account while the caller's session lives
 * on (a second click, two tabs, other sessions ended meanwhile) is checked once more, as if sent
 * after it: the same current password then gets INVALID_CREDENTIALS once it has changed. One
 * overtaken again answers UNAUTHENTICATED, its session alive or not.
 */
export async function changePassword(
  deps: AuthDeps,
  viewer: Viewer,
  input: { currentPassword: string; newPassword: string },
  client: ClientInfo,
) {
  acceptNewPassword(input.newPassword, deps.settings.passwordPolicy, 'newPassword');
  for (let attempt = 1; ; attempt++) {
    const account = await deps.users.findById(viewer.userId);
    if (!account) throw new UnauthenticatedError();
    const user = await checkCredentials(deps, { account }, input.currentPassword, client, 'changePassword');
    const changed = await deps.sessions.changePassword({
      userId: user.id,
      keepSessionId: viewer.sessionId,
      checkedInEpoch: account.sessionEpoch,
      passwordHash: await deps.hasher.hash(input.newPassword),
      now: deps.clock.now(),
    });
    if (changed) {
      deps.audit('password changed', { userId: user.id, sessionId: viewer.sessionId, endedSessions: changed.ended.length, ip: client.ip });
      return true as const;
    }
    if (attempt === 2 || !(await sessionLives(deps, viewer))) throw new UnauthenticatedError();
  }
}

async function sessionLives(deps: AuthDeps, viewer: Viewer) {
  const live = await deps.sessions.listLive(viewer.userId, deps.clock.now());
  return live.some((session) => session.id === viewer.sessionId);
}
