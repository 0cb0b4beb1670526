import { randomUUID } from 'node:crypto';
import { addSeconds } from '../clock';
import type { UserRecord } from '../ports';
import { hashOpaqueToken, newOpaqueToken, signAccessToken } from '../tokens';
import type { AuthDeps, ClientInfo } from './deps';

/** What a successful login, MFA verification or refresh hands the client. */
export interface IssuedTokens {
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
  user: UserRecord;
  sessionId: string;
}

const MAX_USER_AGENT = 512;

/**
 * Starts a new session (refresh-token family) for an authenticated user, provided the user is
 * still enabled and none of their sessions were ended since `checkedInEpoch`, the session epoch
 * the caller's checks were made in: null otherwise. A login whose password was checked before
 * a password change, a logoutAll or a disabling thus never outlives it. A user already at
 * MAX_SESSIONS_PER_USER loses the least recently used session(s): `endedSessionIds` names them.
 */
export async function issueSession(
  deps: Pick<AuthDeps, 'sessions' | 'keys' | 'clock' | 'settings'>,
  user: UserRecord,
  amr: string[],
  client: ClientInfo,
  checkedInEpoch: number,
): Promise<{ tokens: IssuedTokens; endedSessions: number; endedSessionIds: string[] } | null> {
  const now = deps.clock.now();
  const { idleTtl, maxTtl } = deps.settings.refresh;
  const sessionId = randomUUID();
  const refreshToken = newOpaqueToken();
  const absoluteExpiresAt = addSeconds(now, maxTtl);
  // An idle TTL longer than the absolute one simply never applies.
  const idleExpiresAt = addSeconds(now, Math.min(idleTtl, maxTtl));
  const created = await deps.sessions.create({
    id: sessionId,
    userId: user.id,
    amr,
    userAgent: client.userAgent?.slice(0, MAX_USER_AGENT) ?? null,
    ip: client.ip,
    createdAt: now,
    idleExpiresAt,
    absoluteExpiresAt,
    tokenId: randomUUID(),
    tokenHash: hashOpaqueToken(refreshToken),
    sessionEpoch: checkedInEpoch,
    maxLiveSessions: deps.settings.refresh.maxSessionsPerUser,
  });
  if (!created) return null;
  const tokens = await tokensFor(deps, now, user, { id: sessionId, amr, expiresAt: idleExpiresAt }, refreshToken);
  return { tokens, endedSessions: created.ended.length, endedSessionIds: created.ended };
}

/** Signs the access token for a session and bundles it with the session's new refresh token. */
export async function tokensFor(
  deps: Pick<AuthDeps, 'keys' | 'settings'>,
  now: Date,
  user: UserRecord,
  session: { id: string; amr: string[]; expiresAt: Date },
  refreshToken: string,
): Promise<IssuedTokens> {
  const access = await signAccessToken(deps.keys, deps.settings.jwt, now, {
    userId: user.id,
    sessionId: session.id,
    roles: user.roles,
    amr: session.amr,
  }, session.expiresAt);
  return {
    accessToken: access.token,
    expiresIn: access.expiresIn,
    refreshToken,
    refreshTokenExpiresAt: session.expiresAt,
    user,
    sessionId: session.id,
  };
}
