import { UnauthenticatedError } from '../../errors';
import type { AuthDeps, Viewer } from './deps';

/** The caller's account; a token whose user no longer exists or is disabled is as good as none. */
export async function getViewerUser(deps: Pick<AuthDeps, 'users'>, viewer: Viewer) {
  const user = await deps.users.findById(viewer.userId);
  if (!user || user.disabled) throw new UnauthenticatedError();
  return user;
}
