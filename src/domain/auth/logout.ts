import type { AuthDeps, ClientInfo, Viewer } from './deps';
import { hashOpaqueToken } from '../tokens';

/**
 * Ends the session a refresh token belongs to. Always true, valid token or not (RFC 7009
 * style: no oracle for token validity); audited only when it ended the session (one not ended before).
 */
export async function logout(deps: Pick<AuthDeps, 'sessions' | 'clock' | 'audit'>, refreshToken: string | null | undefined, client: ClientInfo) {
  if (refreshToken) {
    const facts = await deps.sessions.inspectToken(hashOpaqueToken(refreshToken));
    if (facts && (await deps.sessions.revoke(facts.sessionId, 'logout', deps.clock.now()))) {
      deps.audit('logged out', { userId: facts.userId, sessionId: facts.sessionId, ip: client.ip });
    }
  }
  return true as const;
}

/** Ends every session of the caller, the current one included. */
export async function logoutAll(deps: Pick<AuthDeps, 'sessions' | 'clock' | 'audit'>, viewer: Viewer) {
  const ended = await deps.sessions.revokeAllOfUser(viewer.userId, 'logout_all', deps.clock.now());
  deps.audit('logged out everywhere', { userId: viewer.userId, sessionId: viewer.sessionId, endedSessions: ended.length });
  return true as const;
}
