import { randomUUID } from 'node:crypto';
import { addSeconds } from '../clock';
import type { UserRecord } from '../ports';
import { hashRefreshToken, newRefreshToken, signAccessToken } from '../tokens';
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

/** Starts a new session (refresh-token family) for an authenticated user. */
export async function issueSession(
  deps: Pick<AuthDeps, 'sessions' | 'keys' | 'clock' | 'settings'>,
  user: UserRecord,
  amr: string[],
  client: ClientInfo,
): Promise<IssuedTokens> {
  const now = deps.clock.now();
  const { idleTtl, maxTtl } = deps.settings.refresh;
  const sessionId = randomUUID();
  const refreshToken = newRefreshToken();
  const idleExpiresAt = addSeconds(now, idleTtl);
  await deps.sessions.create({
    id: sessionId,
    userId: user.id,
    amr,
    userAgent: client.userAgent?.slice(0, MAX_USER_AGENT) ?? null,
    ip: client.ip,
    createdAt: now,
    idleExpiresAt,
    absoluteExpiresAt: addSeconds(now, maxTtl),
    tokenId: randomUUID(),
    tokenHash: hashRefreshToken(refreshToken),
  });
  const access = await signAccessToken(deps.keys, deps.settings.jwt, now, {
    userId: user.id,
    sessionId,
    roles: user.roles,
    amr,
  });
  return {
    accessToken: access.token,
    expiresIn: access.expiresIn,
    refreshToken,
    refreshTokenExpiresAt: idleExpiresAt,
    user,
    sessionId,
  };
}
