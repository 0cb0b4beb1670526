import { UnauthenticatedError } from '../../errors';
import { acceptNewPassword } from '../passwords/check-password-policy';
import { checkCredentials } from './check-credentials';
import type { AuthDeps, ClientInfo, Viewer } from './deps';

/**
 * Needs the current password (checked through checkCredentials, like a login); the new one
 * must pass the policy. Every other session of the user ends; the caller's stays.
 */
export async function changePassword(
  deps: AuthDeps,
  viewer: Viewer,
  input: { currentPassword: string; newPassword: string },
  client: ClientInfo,
) {
  acceptNewPassword(input.newPassword, deps.settings.passwordPolicy, 'newPassword');
  const account = await deps.users.findById(viewer.userId);
  if (!account) throw new UnauthenticatedError();
  const user = await checkCredentials(deps, { account }, input.currentPassword, client, 'changePassword');
  await deps.users.updatePasswordHash(user.id, await deps.hasher.hash(input.newPassword));
  const ended = await deps.sessions.revokeAllOfUser(user.id, 'password_changed', deps.clock.now(), viewer.sessionId);
  deps.audit('password changed', { userId: user.id, sessionId: viewer.sessionId, endedSessions: ended.length, ip: client.ip });
  return true as const;
}
