import { canonicalId } from '../ids';
import type { AuthDeps, Viewer } from './deps';

/**
 * True when one of the caller's live sessions was revoked; false for any other id (unknown,
 * someone else's, already revoked), with no error, so the answer reveals nothing about ids
 * that are not the caller's. Audited when it ended one.
 */
export async function revokeSession(deps: Pick<AuthDeps, 'sessions' | 'clock' | 'audit'>, viewer: Viewer, sessionId: string) {
  const id = canonicalId(sessionId);
  if (!id) return false;
  const revoked = await deps.sessions.revokeOwn(viewer.userId, id, 'revoked_by_user', deps.clock.now());
  if (revoked) deps.audit('session revoked', { userId: viewer.userId, sessionId: id, fromSessionId: viewer.sessionId });
  return revoked;
}
