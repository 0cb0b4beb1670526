import type { AuthDeps, ClientInfo, Viewer } from './deps';
import { hashOpaqueToken } from '../tokens';

/**
 * Ends the sessions the refresh tokens belong to (the argument's, and the cookie's that is being
 * cleared). Always true, valid tokens or not (RFC 7009 style: no oracle for token validity);
 * audited only where it ended a session (one not ended before).
 */
export async function logout(
  deps: Pick<AuthDeps, 'sessions' | 'clock' | 'audit'>,
  refreshTokens: ReadonlyArray<string | null | undefined>,
  client: ClientInfo,
) {
  const now = deps.clock.now();
  for (const refreshToken of new Set(refreshTokens)) {
    if (!refreshToken) continue;
    const facts = await deps.sessions.inspectToken(hashOpaqueToken(refreshToken), now);
    if (facts && (await deps.sessions.revoke(facts.sessionId, 'logout', now))) {
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
