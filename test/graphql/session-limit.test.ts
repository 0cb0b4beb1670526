// Rule: a user has at most MAX_SESSIONS_PER_USER live sessions. A login beyond ends the least
// recently used ones: their refresh tokens are refused and their access tokens at once (the
// revocation feed), and the audit line counts them. Concurrent logins of one user take turns,
// so a burst never leaves more.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeDocument, SessionsDocument } from '../gql/graphql';
import { codeOf, signUp } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { logIn, refreshCode, rotate, sessionIdOf, sessionRowOf } from '../helpers/sessions';
import { issueSession } from '../../src/domain/auth/issue-session';
import { queryRows } from '../../src/storage/postgres/client';

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
    expect(audit).toEqual([expect.objectContaining({ sessionId: sessionIdOf(fourth.accessToken), endedSessions: 1 })]);
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
      const deadline = Date.now() + 10_000;
      for (;;) {
        await tx.execute(sql`SELECT pg_stat_clear_snapshot()`);
        const [waiting] = await queryRows<{ n: number }>(
          tx,
          sql`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE NOT l.granted AND a.datname = current_database()`,
        );
        if (waiting!.n >= burst) break;
        if (Date.now() > deadline) throw new Error(`only ${waiting!.n} of ${burst} logins reached the lock`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
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
});
