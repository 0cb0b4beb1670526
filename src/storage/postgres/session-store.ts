import { and, desc, eq, gt, gte, inArray, isNull, ne, sql, type SQL } from 'drizzle-orm';
import type {
  NewSession,
  PasswordChange,
  RevocationReason,
  RoleChange,
  RoleChangeResult,
  Rotation,
  RotationResult,
  SessionRecord,
  SessionStore,
  TokenFacts,
} from '../../domain/ports';
import { revocationsInForceSince } from '../../domain/revocation';
import { epochMs, preparedQuery, queryRows, transaction, ts, tsPlaceholder, type Db, type Tx } from './client';
import { sessions, users } from './schema';
import { toUser } from './user-store';

type SessionRow = typeof sessions.$inferSelect;
/**
 * True when the session is the user's and live at `now`, and then locked (shared) until the
 * transaction ends: a revocation of it waits for the transaction, or, committed before, makes
 * this false. The one check of a change a session asks for that must not land once it has ended.
 */
export async function lockLiveSession(tx: Tx, userId: string, sessionId: string, now: Date) {
  const rows = await tx.select({ id: sessions.id }).from(sessions).where(and(eq(sessions.id, sessionId), liveSessionsOf(userId, now))).for('share');
  return rows.length === 1;
}

/** The same question, read without a lock: to word the answer to a change that is not made anyway. */
export async function isLiveSession(tx: Tx, userId: string, sessionId: string, now: Date) {
  const rows = await tx.select({ id: sessions.id }).from(sessions).where(and(eq(sessions.id, sessionId), liveSessionsOf(userId, now)));
  return rows.length === 1;
}

/**
 * Ends the user's live sessions but `exceptSessionId`, returning their ids. Sessions that expired
 * longer ago than any access token lives (the longest ACCESS_TOKEN_TTL + the clock skew) are left
 * as they are: no token of theirs passes any more, even one signed before tokens expired with
 * their session, so there is nothing to end, count or announce.
 */
async function endSessionsOf(tx: Tx, userId: string, reason: RevocationReason, now: Date, exceptSessionId?: string) {
  const tokensPassAfter = revocationsInForceSince(now);
  const rows = await tx
    .update(sessions)
    .set({ revokedAt: now, revokedReason: reason })
    .where(
      and(
        eq(sessions.userId, userId),
        isNull(sessions.revokedAt),
        gt(sessions.expiresAt, tokensPassAfter),
        gt(sessions.idleExpiresAt, tokensPassAfter),
        exceptSessionId ? ne(sessions.id, exceptSessionId) : undefined,
      ),
    )
    .returning({ id: sessions.id });
  return rows.map((r) => r.id);
}

/**
 * revokeAllOfUser within a transaction of the caller's, for a change that must end the sessions
 * together with itself (an MFA change, a disabling): raising the epoch waits for any session being created
 * under the old one (see create), and the revocation, a statement of its own, then sees that
 * session and ends it too.
 */
export async function endAllSessionsOf(tx: Tx, userId: string, reason: RevocationReason, now: Date, exceptSessionId?: string) {
  await tx
    .update(users)
    .set({ sessionEpoch: sql`${users.sessionEpoch} + 1` })
    .where(eq(users.id, userId));
  return endSessionsOf(tx, userId, reason, now, exceptSessionId);
}

/** A user's sessions that are neither revoked nor expired (idle or absolute) at `now`. */
const liveSessionsOf = (userId: string, now: Date) =>
  and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now), gt(sessions.idleExpiresAt, now));

const toSession = (r: SessionRow): SessionRecord => ({
  id: r.id,
  userId: r.userId,
  amr: r.amr,
  userAgent: r.userAgent,
  ip: r.ip,
  createdAt: r.createdAt,
  lastUsedAt: r.lastUsedAt,
  expiresAt: r.idleExpiresAt < r.expiresAt ? r.idleExpiresAt : r.expiresAt,
});

interface RotatedRow {
  id: string;
  user_id: string;
  amr: string[];
  user_agent: string | null;
  ip: string | null;
  created_ms: number;
  last_used_ms: number;
  expires_ms: number;
  email: string;
  password_hash: string;
  roles: string[];
  mfa_enabled: boolean;
  session_epoch: number;
  user_created_ms: number;
}

/** The statement of `rotate`, built once (see preparedQuery). */
const ROTATION = (() => {
  const now = tsPlaceholder('now');
  const p = (name: string) => sql.placeholder(name);
  return sql`
      WITH target AS (
        -- Locked before anything is written: a concurrent refresh of the token, or a revocation
        -- of the session, that holds either row is waited for, and the conditions are checked
        -- again on what it committed. A session ended meanwhile thus spends nothing (a token
        -- spent then would look reused when presented again).
        SELECT t.id AS token_id, t.session_id
        FROM refresh_tokens t
        JOIN sessions s ON s.id = t.session_id
        JOIN users u ON u.id = s.user_id
        WHERE t.token_hash = ${p('presentedHash')} AND t.spent_at IS NULL
          AND s.revoked_at IS NULL AND s.idle_expires_at > ${now} AND s.expires_at > ${now}
          AND u.disabled_at IS NULL
        FOR NO KEY UPDATE OF t, s
      ), spent AS (
        UPDATE refresh_tokens t SET spent_at = ${now}
        FROM target WHERE t.id = target.token_id
        RETURNING t.id AS token_id, t.session_id
      ), fresh AS (
        INSERT INTO refresh_tokens (id, session_id, token_hash, parent_id, created_at)
        SELECT ${p('newTokenId')}::uuid, session_id, ${p('newTokenHash')}, token_id, ${now} FROM spent
      ), touched AS (
        UPDATE sessions s SET last_used_at = ${now},
          idle_expires_at = LEAST(${now} + make_interval(secs => ${p('idleTtlSeconds')}), s.expires_at)
        FROM spent WHERE s.id = spent.session_id
        RETURNING s.*
      )
      -- Arrays as JSON, which both drivers parse (postgres.js reads no array types: client.ts).
      SELECT touched.id, touched.user_id, to_json(touched.amr) AS amr, touched.user_agent, touched.ip,
        ${epochMs('touched.created_at')} AS created_ms,
        ${epochMs('touched.last_used_at')} AS last_used_ms,
        ${epochMs('LEAST(touched.idle_expires_at, touched.expires_at)')} AS expires_ms,
        u.email, u.password_hash, to_json(u.roles) AS roles, u.mfa_enabled, u.session_epoch,
        ${epochMs('u.created_at')} AS user_created_ms
      FROM touched JOIN users u ON u.id = touched.user_id`;
})();

export class PostgresSessionStore implements SessionStore {
  private readonly rotation: (values: Record<string, unknown>) => Promise<RotatedRow[]>;

  constructor(private readonly db: Db) {
    this.rotation = preparedQuery<RotatedRow>(db, 'rotate_refresh_token', ROTATION);
  }

  /**
   * One transaction of two statements. The first inserts the session and its first refresh
   * token, from the user's row as it is now (enabled, still in the login's epoch), and locks that
   * row until the transaction ends: revokeAllOfUser, which raises the epoch first, either waits
   * for the session and then ends it, or changes the epoch before and no session starts; and
   * concurrent creations for one user take turns. The second, which therefore sees every
   * session committed before (read committed, which bootstrap checks at start: readDefaultIsolation), ends the least recently used
   * live ones beyond the limit. NO KEY: inserts that reference the user, which take KEY SHARE,
   * do not wait.
   */
  async create(s: NewSession) {
    const created = ts(s.createdAt);
    return this.db.transaction(async (tx) => {
      const inserted = await queryRows<{ id: string }>(
        tx,
        sql`
        WITH session AS (
          INSERT INTO sessions (id, user_id, amr, user_agent, ip, created_at, last_used_at, idle_expires_at, expires_at)
          SELECT ${s.id}::uuid, u.id, ARRAY[${sql.join(s.amr.map((m) => sql`${m}`), sql`, `)}]::text[], ${s.userAgent}, ${s.ip}, ${created}, ${created},
            ${ts(s.idleExpiresAt)}, ${ts(s.absoluteExpiresAt)}
          FROM users u
          WHERE u.id = ${s.userId}::uuid AND u.session_epoch = ${s.sessionEpoch} AND u.disabled_at IS NULL
          FOR NO KEY UPDATE
          RETURNING id
        )
        INSERT INTO refresh_tokens (id, session_id, token_hash, created_at)
        SELECT ${s.tokenId}::uuid, id, ${s.tokenHash}, ${created} FROM session
        RETURNING id`,
      );
      if (inserted.length !== 1) return null;
      const beyondLimit = tx
        .select({ id: sessions.id })
        .from(sessions)
        .where(and(liveSessionsOf(s.userId, s.createdAt), ne(sessions.id, s.id)))
        .orderBy(desc(sessions.lastUsedAt), desc(sessions.createdAt), sessions.id)
        .offset(s.maxLiveSessions - 1);
      const ended = await tx
        .update(sessions)
        .set({ revokedAt: s.createdAt, revokedReason: 'session_limit' })
        // Not one that a concurrent revocation, waited for, has ended meanwhile.
        .where(and(inArray(sessions.id, beyondLimit), isNull(sessions.revokedAt)))
        .returning({ id: sessions.id });
      return { ended: ended.map((row) => row.id) };
    });
  }

  /**
   * One statement: lock the presented token and its session (concurrent callers queue, and
   * Postgres re-checks the conditions for each after the one before commits: the token still
   * unspent, the session still live), spend the token, insert its successor, slide the idle
   * expiry, and read back the session and its user.
   */
  async rotate(r: Rotation): Promise<RotationResult> {
    const rows = await this.rotation({
      now: r.now.toISOString(),
      presentedHash: r.presentedHash,
      newTokenId: r.newTokenId,
      newTokenHash: r.newTokenHash,
      idleTtlSeconds: r.idleTtlSeconds,
    });
    const row = rows[0];
    if (!row) return { kind: 'rejected' };
    return {
      kind: 'rotated',
      session: {
        id: row.id,
        userId: row.user_id,
        amr: row.amr,
        userAgent: row.user_agent,
        ip: row.ip,
        createdAt: new Date(row.created_ms),
        lastUsedAt: new Date(row.last_used_ms),
        expiresAt: new Date(row.expires_ms),
      },
      user: {
        id: row.user_id,
        email: row.email,
        passwordHash: row.password_hash,
        roles: row.roles,
        disabled: false,
        mfaEnabled: row.mfa_enabled,
        createdAt: new Date(row.user_created_ms),
        sessionEpoch: row.session_epoch,
      },
    };
  }

  async inspectToken(tokenHash: string, now: Date): Promise<TokenFacts | null> {
    const at = ts(now);
    const rows = await queryRows<{ session_id: string; user_id: string; spent_ms: number | null; live_child: boolean }>(
      this.db,
      sql`
      SELECT t.session_id, s.user_id, ${epochMs('t.spent_at')} AS spent_ms,
        s.revoked_at IS NULL AND s.idle_expires_at > ${at} AND s.expires_at > ${at}
          AND EXISTS (SELECT 1 FROM refresh_tokens c WHERE c.parent_id = t.id AND c.spent_at IS NULL) AS live_child
      FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = ${tokenHash}`,
    );
    const row = rows[0];
    if (!row) return null;
    return {
      sessionId: row.session_id,
      userId: row.user_id,
      spentAt: row.spent_ms === null ? null : new Date(row.spent_ms),
      isPredecessorOfLive: row.live_child,
    };
  }

  async revoke(sessionId: string, reason: RevocationReason, now: Date) {
    const rows = await this.db
      .update(sessions)
      .set({ revokedAt: now, revokedReason: reason })
      .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)))
      .returning({ id: sessions.id });
    return rows.length === 1;
  }

  async revokeOwn(userId: string, sessionId: string, reason: RevocationReason, now: Date) {
    const rows = await this.db
      .update(sessions)
      .set({ revokedAt: now, revokedReason: reason })
      .where(
        and(eq(sessions.id, sessionId), liveSessionsOf(userId, now)),
      )
      .returning({ id: sessions.id });
    return rows.length === 1;
  }

  /** One transaction: see endAllSessionsOf. */
  async revokeAllOfUser(userId: string, reason: RevocationReason, now: Date, exceptSessionId?: string) {
    return this.db.transaction((tx) => endAllSessionsOf(tx, userId, reason, now, exceptSessionId));
  }

  /**
   * In the order revokeAllOfUser takes its locks (the user's row, then sessions), so that the two
   * never wait for each other: the user's row only in the epoch the password was checked in, so
   * a revokeAllOfUser (another password change, a logoutAll, a disabling) committed meanwhile
   * makes this change nothing, and one still running waits for it. Then the caller's session,
   * locked against a revocation of it: one committed meanwhile undoes the change; one still
   * running is waited for, and its session checked again.
   */
  changePassword(c: PasswordChange) {
    return transaction(this.db, null, async (tx) => {
      const changed = await tx
        .update(users)
        .set({ passwordHash: c.passwordHash, sessionEpoch: sql`${users.sessionEpoch} + 1` })
        .where(and(eq(users.id, c.userId), eq(users.sessionEpoch, c.checkedInEpoch), isNull(users.disabledAt)))
        .returning({ id: users.id });
      if (changed.length !== 1) return tx.rollback();
      if (!(await lockLiveSession(tx, c.userId, c.keepSessionId, c.now))) return tx.rollback();
      return { ended: await endSessionsOf(tx, c.userId, 'password_changed', c.now, c.keepSessionId) };
    });
  }

  /**
   * Users' rows first, then the asking admin's session, then the user's sessions: the order
   * revokeAllOfUser and changePassword take theirs. The asking admin's row is locked too, with
   * the user's and in the order of their ids: this holds the admin's session (shared) while it
   * ends the user's, so two admins taking a role from each other at once would otherwise each
   * hold the session the other must end (a deadlock); now the second waits for the first, and
   * then finds its own session ended. A refused change (`change` throws) or a caller's session
   * ended meanwhile rolls everything back.
   */
  async changeRoles(c: RoleChange): Promise<RoleChangeResult> {
    return transaction(this.db, { kind: 'caller_session_ended' } as const, async (tx): Promise<RoleChangeResult> => {
      const ids = c.askedBy && c.askedBy.userId !== c.userId ? [c.userId, c.askedBy.userId] : [c.userId];
      // NO KEY: the roles are no key, so inserts that reference the user (a login's session, MFA
      // rows), whose checks take KEY SHARE, do not wait for this (nor, through it, for whatever
      // updates the row next: a wait that could close a cycle with a session's lock). Sorted
      // first, locked after (PostgreSQL's order for ORDER BY with FOR ...): one order for all.
      const locked = await tx.select().from(users).where(inArray(users.id, ids)).orderBy(users.id).for('no key update');
      const row = locked.find((r) => r.id === c.userId);
      if (!row) return { kind: 'unknown_user' };
      if (c.askedBy && !(await lockLiveSession(tx, c.askedBy.userId, c.askedBy.sessionId, c.now))) return tx.rollback();
      const roles = c.change(row.roles);
      const removed = row.roles.some((role) => !roles.includes(role));
      const [after] = await tx
        .update(users)
        .set({ roles, ...(removed && { sessionEpoch: sql`${users.sessionEpoch} + 1` }) })
        .where(eq(users.id, c.userId))
        .returning();
      const ended = removed ? await endSessionsOf(tx, c.userId, 'roles_removed', c.now) : [];
      return { kind: 'changed', before: row.roles, after: toUser(after!), ended };
    });
  }

  async disableUser(userId: string, now: Date) {
    return this.db.transaction(async (tx) => {
      await tx.update(users).set({ disabledAt: now }).where(eq(users.id, userId));
      return endAllSessionsOf(tx, userId, 'user_disabled', now);
    });
  }

  async listLive(userId: string, now: Date) {
    const rows = await this.db
      .select()
      .from(sessions)
      .where(liveSessionsOf(userId, now))
      .orderBy(sessions.createdAt);
    return rows.map(toSession);
  }

  async listEndedSince(since: Date) {
    const rows = await this.db
      .select({ id: sessions.id, revokedAt: sessions.revokedAt })
      .from(sessions)
      .where(gte(sessions.revokedAt, since));
    return rows.map((row) => ({ id: row.id, revokedAt: row.revokedAt! }));
  }

  async pruneSpentTokens(before: Date, now: Date) {
    // A scan of the table, hourly: an index on spent_at would cost every rotation (spending a
    // token could no longer update its row in place). Only of sessions live at `now`: those
    // `prune` deletes (with their tokens, by the cascade) are never among them, so the two,
    // run by instances at the same moment, never lock the same rows (in different orders). And
    // rows another transaction holds are skipped (pruned at the next run), never waited for.
    return countDeleted(
      this.db,
      sql`DELETE FROM refresh_tokens WHERE id IN (
        SELECT t.id FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
        WHERE t.spent_at < ${ts(before)}
          AND s.revoked_at IS NULL AND s.expires_at > ${ts(now)} AND s.idle_expires_at > ${ts(now)}
        FOR UPDATE OF t SKIP LOCKED)`,
    );
  }

  /** Skips sessions another transaction holds (another instance pruning): never waited for. */
  async prune(before: Date) {
    return countDeleted(
      this.db,
      sql`DELETE FROM sessions WHERE id IN (
        SELECT id FROM sessions WHERE revoked_at < ${ts(before)} OR expires_at < ${ts(before)} OR idle_expires_at < ${ts(before)}
        FOR UPDATE SKIP LOCKED)`,
    );
  }
}

/** Runs a DELETE and counts its rows in the database: a large prune brings no row into memory. */
async function countDeleted(db: Db, deletion: SQL) {
  const [row] = await queryRows<{ count: number }>(db, sql`WITH deleted AS (${deletion} RETURNING 1) SELECT count(*)::int AS count FROM deleted`);
  return row!.count;
}
