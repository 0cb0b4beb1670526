// Rule: a login beyond MAX_SESSIONS_PER_USER live sessions ends the least recently used ones, everywhere and at once, even under concurrent logins.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeDocument, RefreshDocument, SessionsDocument, type RefreshMutation, type RefreshMutationVariables } from '../gql/graphql';
import { codeOf, signUp } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { logIn, refreshCode, rotate, sessionIdOf, sessionRowOf, tokenRowsOf, untilWaiting } from '../helpers/sessions';
import { issueSession } from '../../src/domain/auth/issue-session';

const LIMIT = 3;
let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway({ env: { MAX_SESSIONS_PER_USER: String(LIMIT) } });
});
afterAll(() => gw?.close());

const liveSessionIds = async (accessToken: string) => {
  const result = await gw.gql(SessionsDocument, {}, { token: accessToken });
  expect(result.errors).toBeUndefined();
  return result.data!.sessions.map((s) => s.id).sort();
};

describe('MAX_SESSIONS_PER_USER', () => {
  it('ends the least recently used session at the login beyond it, refresh and access token alike', async () => {
    const first = await signUp(gw);
    gw.clock.advance(1);
    const second = await logIn(gw, first.email, first.password);
    gw.clock.advance(1);
    const third = await logIn(gw, first.email, first.password);
    gw.clock.advance(1);
    // The oldest session is the most recently used now: the second is the one to go.
    const firstRotated = await rotate(gw, first.refreshToken);
    gw.clock.advance(1);
    const from = gw.logs.length;
    const fourth = await logIn(gw, first.email, first.password);

    expect(await liveSessionIds(fourth.accessToken)).toEqual(
      [first.accessToken, third.accessToken, fourth.accessToken].map(sessionIdOf).sort(),
    );
    expect(await refreshCode(gw, second.refreshToken)).toBe('INVALID_TOKEN');
    expect(codeOf(await gw.gql(MeDocument, {}, { token: second.accessToken }))).toBe('UNAUTHENTICATED');
    expect((await sessionRowOf(gw, sessionIdOf(second.accessToken))).revokedReason).toBe('session_limit');
    // The others go on.
    expect((await rotate(gw, firstRotated.refreshToken)).refreshToken).toBeTruthy();
    expect((await rotate(gw, third.refreshToken)).refreshToken).toBeTruthy();
    expect((await gw.gql(MeDocument, {}, { token: third.accessToken })).errors).toBeUndefined();

    const audit = gw.logs
      .slice(from)
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.audit === true && line.msg === 'login succeeded');
    expect(audit).toEqual([
      expect.objectContaining({ sessionId: sessionIdOf(fourth.accessToken), endedSessions: 1, endedSessionIds: [sessionIdOf(second.accessToken)] }),
    ]);
  });

  it('counts only live sessions: an expired one, though never revoked, takes no place', async () => {
    const first = await signUp(gw);
    const second = await logIn(gw, first.email, first.password);
    const third = await logIn(gw, first.email, first.password);
    // The first one's idle time has run out (as a client gone quiet for REFRESH_TOKEN_IDLE_TTL).
    await gw.database.db.execute(sql`UPDATE sessions SET idle_expires_at = created_at WHERE id = ${sessionIdOf(first.accessToken)}`);
    const from = gw.logs.length;
    const fourth = await logIn(gw, first.email, first.password);
    expect(await liveSessionIds(fourth.accessToken)).toEqual([second, third, fourth].map((t) => sessionIdOf(t.accessToken)).sort());
    expect((await sessionRowOf(gw, sessionIdOf(first.accessToken))).revokedReason).toBeNull();
    const [line] = gw.logs.slice(from).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'login succeeded');
    expect(line).toMatchObject({ endedSessions: 0, endedSessionIds: [] });
  });

  it('with a limit of 1, each login ends the session before it', async () => {
    const user = await signUp(gw);
    const record = (await gw.deps.users.findByEmail(user.email))!;
    const deps = { ...gw.deps, settings: { ...gw.deps.settings, refresh: { ...gw.deps.settings.refresh, maxSessionsPerUser: 1 } } };
    const issued = (await issueSession(deps, record, ['pwd'], { ip: null, userAgent: null }, record.sessionEpoch))!;
    expect(issued.endedSessions).toBe(1);
    expect(await refreshCode(gw, user.refreshToken)).toBe('INVALID_TOKEN');
    expect((await rotate(gw, issued.tokens.refreshToken)).refreshToken).toBeTruthy();
  });
});

// PGlite has one connection, which serialises everything: concurrency is PostgreSQL's question.
describe.runIf(process.env.DATABASE_URL)('MAX_SESSIONS_PER_USER under concurrent logins (PostgreSQL)', () => {
  it('makes logins of one user take turns: released at once, they still leave exactly the limit live, every other session ended and announced', async () => {
    const user = await signUp(gw);
    const record = (await gw.deps.users.findByEmail(user.email))!;
    const burst = 4; // with this test's own transaction, the test database's pool of 5
    let issued!: Promise<Array<Awaited<ReturnType<typeof issueSession>>>>;
    // Hold the user's row, start the session step of `burst` logins (their password checks
    // would take turns on the hash pool anyway), and let go once every one of them waits for it.
    await gw.database.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT 1 FROM users WHERE id = ${record.id} FOR NO KEY UPDATE`);
      issued = Promise.all(
        Array.from({ length: burst }, () => issueSession(gw.deps, record, ['pwd'], { ip: null, userAgent: null }, record.sessionEpoch)),
      );
      await untilWaiting(tx, burst);
    });
    const results = await issued;
    expect(results.every((result) => result !== null)).toBe(true);
    const survivors = (await gw.deps.sessions.listLive(record.id, gw.clock.now())).map((session) => session.id);
    expect(survivors).toHaveLength(LIMIT);
    // The signed-up session and the new ones: all but LIMIT ended, each counted once and announced.
    const all = [sessionIdOf(user.accessToken), ...results.map((result) => result!.tokens.sessionId)];
    const ended = all.filter((id) => !survivors.includes(id));
    expect(ended).toHaveLength(all.length - LIMIT);
    expect(results.reduce((sum, result) => sum + result!.endedSessions, 0)).toBe(all.length - LIMIT);
    for (const id of ended) expect(gw.deps.revocations.isRevoked(id, gw.clock.now())).toBe(true);
  });

  it('refuses a refresh that waited for its session to be ended (by the limit or otherwise), spending nothing', async () => {
    const user = await signUp(gw);
    const sessionId = sessionIdOf(user.accessToken);
    let refreshed!: Promise<string | undefined>;
    await gw.database.db.transaction(async (tx) => {
      await tx.execute(sql`UPDATE sessions SET revoked_at = now(), revoked_reason = 'session_limit' WHERE id = ${sessionId}`);
      refreshed = refreshCode(gw, user.refreshToken);
      await untilWaiting(tx, 1);
    });
    expect(await refreshed).toBe('INVALID_TOKEN');
    // The token was not spent and has no successor: presented again later, it is a token of an
    // ended session, not a stolen one.
    const tokens = await tokenRowsOf(gw, sessionId);
    expect(tokens).toHaveLength(1);
    expect(tokens[0]!.spentAt).toBeNull();
    gw.clock.advance(gw.config.refresh.reuseGraceSeconds + 1);
    const from = gw.logs.length;
    expect(await refreshCode(gw, user.refreshToken)).toBe('INVALID_TOKEN');
    expect(gw.logs.slice(from).join('')).not.toContain('refresh token reused');
  });

  it('answers a refresh that Postgres aborted as a deadlock SERVICE_UNAVAILABLE (retry it), spending nothing', async () => {
    // The rotation locks the token, then waits for the session held here; this then waits for
    // the token: Postgres aborts the rotation, whose wait began first, unless this test was too
    // slow to start waiting within deadlock_timeout (1 s): then it is the victim, and tries again.
    const deadlocked = async () => {
      const user = await signUp(gw);
      const sessionId = sessionIdOf(user.accessToken);
      let refreshed!: ReturnType<typeof gw.gql<RefreshMutation, RefreshMutationVariables>>;
      try {
        await gw.database.db.transaction(async (tx) => {
          await tx.execute(sql`SELECT id FROM sessions WHERE id = ${sessionId} FOR UPDATE`);
          refreshed = gw.gql(RefreshDocument, { refreshToken: user.refreshToken });
          await untilWaiting(tx, 1);
          await tx.execute(sql`UPDATE refresh_tokens SET created_at = created_at WHERE session_id = ${sessionId}`);
        });
      } catch (error) {
        await refreshed;
        const failed = error as { code?: string; cause?: { code?: string } };
        if ((failed.code ?? failed.cause?.code) === '40P01') return undefined;
        throw error;
      }
      return { user, answer: await refreshed };
    };
    let outcome;
    for (let attempt = 0; attempt < 3 && !outcome; attempt++) outcome = await deadlocked();
    const { user, answer } = outcome!;
    expect(codeOf(answer)).toBe('SERVICE_UNAVAILABLE');
    expect(answer.errors![0]!.extensions.retryAfter).toBe(1);
    expect((await rotate(gw, user.refreshToken)).refreshToken).toBeTruthy();
  });

  it('never ends a session that a concurrent revocation ended first, nor counts it', async () => {
    const first = await signUp(gw);
    gw.clock.advance(1);
    await logIn(gw, first.email, first.password);
    gw.clock.advance(1);
    await logIn(gw, first.email, first.password);
    gw.clock.advance(1);
    const record = (await gw.deps.users.findByEmail(first.email))!;
    const oldest = sessionIdOf(first.accessToken);
    let issued!: ReturnType<typeof issueSession>;
    // The oldest session, the one the next login would end, is being revoked by an admin meanwhile.
    await gw.database.db.transaction(async (tx) => {
      await tx.execute(sql`UPDATE sessions SET revoked_at = now(), revoked_reason = 'admin' WHERE id = ${oldest}`);
      issued = issueSession(gw.deps, record, ['pwd'], { ip: null, userAgent: null }, record.sessionEpoch);
      await untilWaiting(tx, 1);
    });
    expect((await issued)!.endedSessions).toBe(0);
    expect((await sessionRowOf(gw, oldest)).revokedReason).toBe('admin');
  });
});
