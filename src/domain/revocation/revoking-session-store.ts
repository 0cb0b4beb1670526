import type { RevocationReason, SessionStore } from '../ports';
import type { RevocationFeed } from './ports';
import { tokensLiveUntil } from './token-lifetimes';

/**
 * Tells the feed of sessions ended at `now`, until their last access token has expired: for the
 * changes that end sessions in a store of their own (MFA), as this wrapper does for the rest.
 */
export async function announceEnded(feed: RevocationFeed, ids: string[], now: Date) {
  if (ids.length > 0) await feed.publish(ids, tokensLiveUntil(now));
}

/**
 * The session store as the domain uses it: every revocation it makes, whatever the path (logout,
 * logoutAll, revokeSession, password change, refresh reuse, role removal, disable, admin, the
 * limit of sessions per user), also goes to the revocation feed, until the session's last access
 * token has expired. (An MFA change ends sessions in the MFA store's transaction: its use cases
 * announce them with announceEnded.)
 */
export function revokingSessionStore(inner: SessionStore, feed: RevocationFeed): SessionStore {
  const announce = (ids: string[], now: Date) => announceEnded(feed, ids, now);
  return {
    async create(session) {
      const created = await inner.create(session);
      if (created) await announce(created.ended, session.createdAt);
      return created;
    },
    rotate: (rotation) => inner.rotate(rotation),
    inspectToken: (hash, now) => inner.inspectToken(hash, now),
    listLive: (userId, now) => inner.listLive(userId, now),
    listEndedSince: (since) => inner.listEndedSince(since),
    prune: (before) => inner.prune(before),
    pruneSpentTokens: (before, now) => inner.pruneSpentTokens(before, now),
    async revoke(sessionId: string, reason: RevocationReason, now: Date) {
      const revoked = await inner.revoke(sessionId, reason, now);
      if (revoked) await announce([sessionId], now);
      return revoked;
    },
    async revokeOwn(userId: string, sessionId: string, reason: RevocationReason, now: Date) {
      const revoked = await inner.revokeOwn(userId, sessionId, reason, now);
      if (revoked) await announce([sessionId], now);
      return revoked;
    },
    async changePassword(change) {
      const changed = await inner.changePassword(change);
      if (changed) await announce(changed.ended, change.now);
      return changed;
    },
    async changeRoles(change) {
      const changed = await inner.changeRoles(change);
      if (changed.kind === 'changed') await announce(changed.ended, change.now);
      return changed;
    },
    async disableUser(userId: string, now: Date) {
      const ids = await inner.disableUser(userId, now);
      await announce(ids, now);
      return ids;
    },
    async revokeAllOfUser(userId: string, reason: RevocationReason, now: Date, exceptSessionId?: string) {
      const ids = await inner.revokeAllOfUser(userId, reason, now, exceptSessionId);
      await announce(ids, now);
      return ids;
    },
  };
}
