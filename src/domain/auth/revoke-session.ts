import { isUuid } from '../ids';
import type { AuthDeps, Viewer } from './deps';

/**
 * True when one of the caller's live sessions was revoked; false for any other id (unknown,
 * someone else's, already revoked), with no error, so the answer reveals nothing about ids
 * that are not the caller's.
 */
export async function revokeSession(deps: Pick<AuthDeps, 'sessions' | 'clock'>, viewer: Viewer, sessionId: string) {
  if (!isUuid(sessionId)) return false;
  return deps.sessions.revokeOwn(viewer.userId, sessionId, 'revoked_by_user', deps.clock.now());
}
