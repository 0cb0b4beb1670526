import { randomUUID } from 'node:crypto';
import { InvalidTokenError, MissingRefreshTokenError } from '../../errors';
import { hashOpaqueToken, newOpaqueToken } from '../tokens';
import type { AuthDeps, ClientInfo } from './deps';
import { tokensFor, type IssuedTokens } from './issue-session';

/**
 * Rotates a refresh token: the presented one is spent and a successor issued in the same
 * session, atomically. Every failure is INVALID_TOKEN. Presenting a spent token revokes the
 * whole session (RFC 9700 §4.14.2), except for the parallel-tab grace: the immediate
 * predecessor of the live token, spent less than REFRESH_REUSE_GRACE_SECONDS ago, is refused
 * without harm. Grace never issues a token. Roles and the disabled flag are re-read here.
 * A spent token presented outside the grace is a theft signal: logged at warn level
 * ('refresh token reused'), with `sessionRevoked` false when the session had already ended;
 * one refused under the grace is logged at info level ('refresh refused in grace').
 */
export async function refresh(
  deps: AuthDeps,
  presented: string | null | undefined,
  client: ClientInfo,
): Promise<IssuedTokens> {
  await deps.throttle.refresh(client.ip);
  if (!presented) throw new MissingRefreshTokenError();
  const now = deps.clock.now();
  const presentedHash = hashOpaqueToken(presented);
  const successor = newOpaqueToken();
  const result = await deps.sessions.rotate({
    presentedHash,
    newTokenId: randomUUID(),
    newTokenHash: hashOpaqueToken(successor),
    now,
    idleTtlSeconds: deps.settings.refresh.idleTtl,
  });
  if (result.kind === 'rejected') throw new InvalidTokenError(await handleRejected(deps, presentedHash, now, client));
  return tokensFor(deps, now, result.user, result.session, successor);
}

/** True when the token was refused under the grace (its session lives on). */
async function handleRejected(deps: AuthDeps, presentedHash: string, now: Date, client: ClientInfo) {
  const facts = await deps.sessions.inspectToken(presentedHash, now);
  if (!facts?.spentAt) return false; // unknown, or live in a dead session: nothing more to do
  const graceMs = deps.settings.refresh.reuseGraceSeconds * 1000;
  const withinGrace = facts.isPredecessorOfLive && now.getTime() - facts.spentAt.getTime() < graceMs;
  if (withinGrace) {
    // Usually a second tab that lost the race; where the addresses differ, perhaps a thief who
    // refreshed first (its successor lives on): worth a line, not an alarm.
    deps.audit('refresh refused in grace', { userId: facts.userId, sessionId: facts.sessionId, ip: client.ip });
    return true;
  }
  const sessionRevoked = await deps.sessions.revoke(facts.sessionId, 'refresh_reuse', now);
  deps.audit('refresh token reused', { userId: facts.userId, sessionId: facts.sessionId, sessionRevoked, ip: client.ip });
  return false;
}
