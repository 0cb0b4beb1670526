// Rule: refresh tokens rotate atomically, reuse of a spent token revokes its family (bar the parallel-tab grace; for REFRESH_TOKEN_IDLE_TTL after it was spent, then it is pruned), expiry holds, the user is re-read, and only SHA-256 hashes are stored; the rotation's statement is built once.
import { createHash } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import { PgDialect } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { disableUser, prune } from '../../src/domain/admin';
import { issueSession } from '../../src/domain/auth';
import { refreshTokens, sessions, users } from '../../src/storage/postgres/schema';
import { LoginDocument, LogoutDocument, MeDocument, RefreshDocument } from '../gql/graphql';
import { codeOf, signUp } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { freezeForTest } from '../helpers/test-clock';
import { refreshCode, rotate, sessionIdOf, sessionRowOf, tokenRowsOf, untilWaiting } from '../helpers/sessions';

const GRACE = 10;

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway();
});
afterAll(() => gw.close());

/** A session rotated twice: RT1 → RT2 → RT3 (RT3 live). */
async function threeGenerations() {
  const login = await signUp(gw);
  const rt2 = (await rotate(gw, login.refreshToken)).refreshToken!;
  const rt3 = (await rotate(gw, rt2)).refreshToken!;
  return { login, rt1: login.refreshToken!, rt2, rt3, sessionId: sessionIdOf(login.accessToken) };
}

describe('rotation and reuse detection', () => {
  it('spends each token once: RT1 replayed after the grace period → INVALID_TOKEN, and RT3 dies with the family', async () => {
    const { rt1, rt2, rt3, sessionId } = await threeGenerations();
    expect(new Set([rt1, rt2, rt3]).size).toBe(3);
    gw.clock.advance(GRACE + 1);
    expect(await refreshCode(gw, rt1)).toBe('INVALID_TOKEN');
    expect(await refreshCode(gw, rt3)).toBe('INVALID_TOKEN');
    expect((await sessionRowOf(gw, sessionId)).revokedReason).toBe('refresh_reuse');
  });

  it('inside the grace window, a token that is not the immediate predecessor still revokes the family', async () => {
    const { rt1, rt3 } = await threeGenerations();
    expect(await refreshCode(gw, rt1)).toBe('INVALID_TOKEN');
    expect(await refreshCode(gw, rt3)).toBe('INVALID_TOKEN');
  });

  it('inside the grace window, the immediate predecessor is refused without harm and no token is issued', async () => {
    const { rt2, rt3, sessionId } = await threeGenerations();
    const before = await tokenRowsOf(gw, sessionId);
    const replay = await gw.gql(RefreshDocument, { refreshToken: rt2 });
    expect(codeOf(replay)).toBe('INVALID_TOKEN');
    expect(replay.data).toBeNull();
    expect(await tokenRowsOf(gw, sessionId)).toHaveLength(before.length);
    expect((await sessionRowOf(gw, sessionId)).revokedAt).toBeNull();
    expect((await rotate(gw, rt3)).refreshToken).toBeTruthy();
  });

  it('after the grace period (11 s), the immediate predecessor revokes the family: the live token dies', async () => {
    const login = await signUp(gw);
    const live = (await rotate(gw, login.refreshToken)).refreshToken!;
    gw.clock.advance(GRACE + 1);
    expect(await refreshCode(gw, login.refreshToken)).toBe('INVALID_TOKEN');
    expect(await refreshCode(gw, live)).toBe('INVALID_TOKEN');
  });

  it('ends the grace to the millisecond: the predecessor is refused harmlessly 1 ms before GRACE s, and revokes the family at GRACE s', async () => {
    freezeForTest(gw.clock);
    const login = await signUp(gw);
    const live = (await rotate(gw, login.refreshToken)).refreshToken!;
    const sessionId = sessionIdOf(login.accessToken);
    gw.clock.advance(GRACE - 0.001);
    expect(await refreshCode(gw, login.refreshToken)).toBe('INVALID_TOKEN');
    expect((await sessionRowOf(gw, sessionId)).revokedAt).toBeNull();
    gw.clock.advance(0.001);
    expect(await refreshCode(gw, login.refreshToken)).toBe('INVALID_TOKEN');
    expect((await sessionRowOf(gw, sessionId)).revokedReason).toBe('refresh_reuse');
    expect(await refreshCode(gw, live)).toBe('INVALID_TOKEN');
  });

  it('of 20 concurrent refreshes with one token exactly one succeeds, and the winner keeps the family alive', async () => {
    const login = await signUp(gw);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => gw.gql(RefreshDocument, { refreshToken: login.refreshToken })),
    );
    const winners = results.filter((r) => !r.errors);
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => codeOf(r) === 'INVALID_TOKEN')).toHaveLength(19);
    const next = await rotate(gw, winners[0]!.data!.refresh.refreshToken);
    expect(next.refreshToken).toBeTruthy();
  });

  // A rotation takes about a millisecond: refreshes fired together rarely overlap. Held at the
  // token's row, they all do. PGlite's one connection serialises everything.
  it.runIf(process.env.DATABASE_URL)('of 4 refreshes with one token that all wait for its row, exactly one spends it (PostgreSQL)', async () => {
    const login = await signUp(gw);
    const sessionId = sessionIdOf(login.accessToken);
    const [token] = await tokenRowsOf(gw, sessionId);
    const burst = 4; // with this test's own transaction, the test database's pool of 5
    let results!: Promise<Array<string | undefined>>;
    await gw.database.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT 1 FROM refresh_tokens WHERE id = ${token!.id} FOR UPDATE`);
      results = Promise.all(Array.from({ length: burst }, () => refreshCode(gw, login.refreshToken)));
      await untilWaiting(tx, burst);
    });
    expect((await results).sort()).toEqual([undefined, ...Array.from({ length: burst - 1 }, () => 'INVALID_TOKEN')].sort());
    const rows = await tokenRowsOf(gw, sessionId);
    expect(rows).toHaveLength(2); // the one spent and its single successor
  });
});

describe('the user is re-read at every refresh', () => {
  it('a disabled user cannot refresh or log in, even with its session still open', async () => {
    const login = await signUp(gw);
    await gw.deps.users.setDisabled(login.user.id, gw.clock.now());
    expect((await sessionRowOf(gw, sessionIdOf(login.accessToken))).revokedAt).toBeNull();
    expect(await refreshCode(gw, login.refreshToken)).toBe('INVALID_TOKEN');
    const relogin = await gw.gql(LoginDocument, { email: login.email, password: login.password });
    expect(codeOf(relogin)).toBe('INVALID_CREDENTIALS');
    // Enabled again, the same untouched token works: the refusal came from the flag alone.
    await gw.deps.users.setDisabled(login.user.id, null);
    expect((await rotate(gw, login.refreshToken)).user.id).toBe(login.user.id);
  });

  it('disableUser (the admin operation) ends the sessions and blocks login', async () => {
    const login = await signUp(gw);
    expect(codeOf(await gw.gql(MeDocument, {}, { token: login.accessToken }))).toBeUndefined();
    await disableUser(gw.deps, login.email);
    // Its access tokens too, at once, not when they expire.
    expect(codeOf(await gw.gql(MeDocument, {}, { token: login.accessToken }))).toBe('UNAUTHENTICATED');
    expect((await sessionRowOf(gw, sessionIdOf(login.accessToken))).revokedAt).not.toBeNull();
    expect(await refreshCode(gw, login.refreshToken)).toBe('INVALID_TOKEN');
    const relogin = await gw.gql(LoginDocument, { email: login.email, password: login.password });
    expect(codeOf(relogin)).toBe('INVALID_CREDENTIALS');
  });

  it('roles changed in the database appear in the next refreshed access token', async () => {
    const login = await signUp(gw);
    expect(decodeJwt(login.accessToken).roles).toEqual(['user']);
    await gw.database.db.update(users).set({ roles: ['user', 'admin'] }).where(eq(users.id, login.user.id));
    const next = await rotate(gw, login.refreshToken);
    const claims = decodeJwt(next.accessToken);
    expect(claims.roles).toEqual(['user', 'admin']);
    expect(claims.scope).toBe('user admin');
    expect(next.user.roles).toEqual(['user', 'admin']);
  });
});

describe('storage and unknown tokens', () => {
  const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

  it('stores only the SHA-256 hex of each token, never the token itself', async () => {
    const login = await signUp(gw);
    // 256 random bits, base64url: what no guessing reaches.
    expect(login.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(login.refreshToken!, 'base64url')).toHaveLength(32);
    const rt2 = (await rotate(gw, login.refreshToken)).refreshToken!;
    const issued = [login.refreshToken!, rt2];
    const rows = await tokenRowsOf(gw, sessionIdOf(login.accessToken));
    expect(rows.map((r) => r.tokenHash).sort()).toEqual(issued.map(sha256).sort());
    const everything = JSON.stringify([
      await gw.database.db.select().from(refreshTokens),
      await gw.database.db.select().from(sessions),
    ]);
    for (const token of issued) expect(everything).not.toContain(token);
  });

  it("builds the rotation's statement once, at start, not at every refresh", async () => {
    const built = vi.spyOn(PgDialect.prototype, 'sqlToQuery');
    // The rotation's text: its CTEs are target, spent, fresh and touched.
    const rotationBuilds = () =>
      built.mock.results.filter((r) => r.type === 'return' && /\bspent AS \(/.test((r.value as { sql: string }).sql)).length;
    let own: TestGateway | undefined;
    try {
      own = await startGateway();
      // The control: the spy sees the statement built, once, as the store is made.
      expect(rotationBuilds()).toBe(1);
      const login = await signUp(own);
      let token = login.refreshToken!;
      for (let i = 0; i < 3; i++) token = (await rotate(own, token)).refreshToken!;
      expect(rotationBuilds()).toBe(1);
    } finally {
      built.mockRestore();
      await own?.close();
    }
  });

  it.each([
    ['an unknown', 'A'.repeat(43)],
    ['a garbage', 'not a token; DROP TABLE refresh_tokens'],
    ['an empty', ''],
  ])('answers %s token with INVALID_TOKEN', async (_kind, token) => {
    expect(await refreshCode(gw, token)).toBe('INVALID_TOKEN');
  });
});

describe('idle and absolute expiry', () => {
  const IDLE = 120;
  const MAX = 600;
  let short: TestGateway;
  beforeAll(async () => {
    short = await startGateway({ env: { REFRESH_TOKEN_IDLE_TTL: String(IDLE), REFRESH_TOKEN_MAX_TTL: String(MAX) } });
  });
  afterAll(() => short.close());

  const ms = (iso: string | Date) => new Date(iso).getTime();

  it('slides the idle expiry at each refresh and refuses a token idle for longer than REFRESH_TOKEN_IDLE_TTL', async () => {
    const login = await signUp(short);
    const sessionId = sessionIdOf(login.accessToken);
    const created = await sessionRowOf(short, sessionId);
    expect(ms(login.refreshTokenExpiresAt)).toBe(created.createdAt.getTime() + IDLE * 1000);

    short.clock.advance(100);
    const rt2 = await rotate(short, login.refreshToken);
    const used = await sessionRowOf(short, sessionId);
    expect(ms(rt2.refreshTokenExpiresAt)).toBe(used.lastUsedAt.getTime() + IDLE * 1000);

    short.clock.advance(100); // past the first idle expiry, inside the slid one
    const rt3 = await rotate(short, rt2.refreshToken);
    short.clock.advance(IDLE + 1); // 321 s after login: idle, though far from REFRESH_TOKEN_MAX_TTL
    expect(await refreshCode(short, rt3.refreshToken)).toBe('INVALID_TOKEN');
  });

  it('ends a session to the millisecond: a token is taken 1 ms before its idle expiry, and refused at it', async () => {
    freezeForTest(short.clock);
    const [taken, refused] = [await signUp(short), await signUp(short)];
    short.clock.advance(IDLE - 0.001);
    expect((await rotate(short, taken.refreshToken)).refreshToken).toBeTruthy();
    short.clock.advance(0.001);
    expect(await refreshCode(short, refused.refreshToken)).toBe('INVALID_TOKEN');
    // Refused as expired, not as reuse: nothing was revoked.
    expect((await sessionRowOf(short, sessionIdOf(refused.accessToken))).revokedAt).toBeNull();
  });

  it('ends the session REFRESH_TOKEN_MAX_TTL after login even when refreshed regularly', async () => {
    const login = await signUp(short);
    const { createdAt, expiresAt } = await sessionRowOf(short, sessionIdOf(login.accessToken));
    expect(expiresAt.getTime()).toBe(createdAt.getTime() + MAX * 1000);

    let token = login.refreshToken;
    let latest = login.refreshTokenExpiresAt;
    for (const step of [100, 100, 100, 100, 100, 90]) {
      short.clock.advance(step);
      const next = await rotate(short, token);
      expect(ms(next.refreshTokenExpiresAt)).toBeLessThanOrEqual(expiresAt.getTime());
      token = next.refreshToken;
      latest = next.refreshTokenExpiresAt;
    }
    // 590 s after login the idle expiry would be 710 s: the nearer absolute one is reported.
    expect(ms(latest)).toBe(expiresAt.getTime());
    short.clock.advance(11); // 601 s after login, 11 s after the last refresh
    const last = (await sessionRowOf(short, sessionIdOf(login.accessToken))).lastUsedAt;
    expect(short.clock.now().getTime() - last.getTime()).toBeLessThan(IDLE * 1000);
    expect(await refreshCode(short, token)).toBe('INVALID_TOKEN');
  });

  it('gives no access token a life beyond its session: exp and expiresIn stop at its idle or absolute end', async () => {
    // ACCESS_TOKEN_TTL (900 s) is longer than either here.
    const login = await signUp(short);
    const claims = decodeJwt(login.accessToken);
    expect(claims.exp! - claims.iat!).toBe(IDLE);
    expect(login.expiresIn).toBe(IDLE);
    expect(codeOf(await short.gql(MeDocument, {}, { token: login.accessToken }))).toBeUndefined();
    // Expired, the session is in no list of live ones and no revocation reaches it: nor does its token pass.
    short.clock.advance(IDLE + 61);
    expect(codeOf(await short.gql(MeDocument, {}, { token: login.accessToken }))).toBe('UNAUTHENTICATED');

    // Refreshed regularly, the idle end slides on, until the absolute one (MAX after login) is nearer.
    const second = await signUp(short);
    let token = second.refreshToken;
    let elapsed = 0;
    for (const step of [100, 100, 100, 100, 100, 90]) {
      short.clock.advance(step);
      elapsed += step;
      const next = await rotate(short, token);
      token = next.refreshToken;
      const { exp, iat } = decodeJwt(next.accessToken);
      // Exactly the session's end, in whole seconds. The test clock runs on in real time too: by
      // the time of the refresh, its second may have turned since the login's.
      const row = await sessionRowOf(short, sessionIdOf(second.accessToken));
      expect(exp).toBe(Math.floor(Math.min(+row.idleExpiresAt, +row.expiresAt) / 1000));
      expect(exp! - iat!).toBeGreaterThanOrEqual(Math.min(IDLE, MAX - elapsed) - 1);
      expect(exp! - iat!).toBeLessThanOrEqual(Math.min(IDLE, MAX - elapsed));
    }
  });

  it("gives a token refreshed in its session's last whole second one second of life, not an expired one", async () => {
    freezeForTest(short.clock);
    // The login at .500 of a second: the session ends at .500 too, MAX seconds later.
    short.clock.advance((1500 - (short.clock.now().getTime() % 1000)) / 1000);
    const login = await signUp(short);
    const { expiresAt } = await sessionRowOf(short, sessionIdOf(login.accessToken));
    let token = login.refreshToken;
    for (const step of [100, 100, 100, 100, 100]) {
      short.clock.advance(step);
      token = (await rotate(short, token)).refreshToken;
    }
    short.clock.advance(99.6); // 0.4 s before the end, in the same whole second
    expect(expiresAt.getTime() - short.clock.now().getTime()).toBe(400);
    const last = await rotate(short, token);
    const { exp, iat } = decodeJwt(last.accessToken);
    expect(exp! - iat!).toBe(1);
    expect(last.expiresIn).toBe(1);
    expect((await short.gql(MeDocument, {}, { token: last.accessToken })).data?.me.id).toBe(login.user.id);
  });

  it('caps the idle expiry at the absolute one when REFRESH_TOKEN_IDLE_TTL exceeds REFRESH_TOKEN_MAX_TTL', async () => {
    const user = (await short.deps.users.findByEmail((await signUp(short)).email))!;
    const deps = { ...short.deps, settings: { ...short.deps.settings, refresh: { ...short.deps.settings.refresh, idleTtl: 7200, maxTtl: 3600 } } };
    const issued = (await issueSession(deps, user, ['pwd'], { ip: null, userAgent: null }, user.sessionEpoch))!.tokens;
    expect(issued).not.toBeNull();
    const row = await sessionRowOf(short, issued.sessionId);
    expect(issued.refreshTokenExpiresAt.getTime()).toBe(row.createdAt.getTime() + 3600 * 1000);
    expect(row.idleExpiresAt.getTime()).toBe(row.expiresAt.getTime());
  });
});

describe('spent tokens of a live session', () => {
  const idle = () => gw.config.refresh.idleTtl;

  it('end the session at logout: logout with RT1, spent for the live RT2, kills RT2 and the latest access token', async () => {
    const login = await signUp(gw);
    const sessionId = sessionIdOf(login.accessToken);
    const next = await rotate(gw, login.refreshToken); // RT1 spent, RT2 live
    expect((await gw.gql(MeDocument, {}, { token: next.accessToken })).data?.me.id).toBe(login.user.id);

    const out = await gw.gql(LogoutDocument, { refreshToken: login.refreshToken });
    expect(out.errors).toBeUndefined();
    expect(out.data?.logout).toBe(true);

    expect(codeOf(await gw.gql(MeDocument, {}, { token: next.accessToken }))).toBe('UNAUTHENTICATED');
    expect(await refreshCode(gw, next.refreshToken)).toBe('INVALID_TOKEN');
    expect((await sessionRowOf(gw, sessionId)).revokedReason).toBe('logout');
  });

  it('are kept REFRESH_TOKEN_IDLE_TTL: a thief who refreshed first is found out when the owner comes back days later', async () => {
    const owner = await signUp(gw);
    const sessionId = sessionIdOf(owner.accessToken);
    const stolen = (await rotate(gw, owner.refreshToken)).refreshToken!;
    gw.clock.advance(25 * 3600); // the owner's device sleeps over a day; the thief keeps refreshing
    try {
      const thiefs = (await rotate(gw, stolen)).refreshToken!;
      await prune(gw.deps);
      expect(await refreshCode(gw, owner.refreshToken)).toBe('INVALID_TOKEN');
      expect((await sessionRowOf(gw, sessionId)).revokedReason).toBe('refresh_reuse');
      expect(await refreshCode(gw, thiefs)).toBe('INVALID_TOKEN');
    } finally {
      gw.clock.advance(-25 * 3600);
    }
  });

  it('are deleted (prune) once REFRESH_TOKEN_IDLE_TTL has passed since they were spent: one presented later is merely unknown, and ends nothing', async () => {
    const { rt1, rt2, rt3, sessionId } = await threeGenerations();
    expect(await tokenRowsOf(gw, sessionId)).toHaveLength(3);
    let moved = 0;
    const advance = (seconds: number) => {
      gw.clock.advance(seconds);
      moved += seconds;
    };
    try {
      advance(idle() - 60);
      const rt4 = (await rotate(gw, rt3)).refreshToken!; // the session lives on: refreshed within the idle TTL
      await prune(gw.deps);
      expect(await tokenRowsOf(gw, sessionId)).toHaveLength(4);
      advance(61);
      expect((await prune(gw.deps)).spentTokens).toBeGreaterThanOrEqual(2);
      // rt1 and rt2 went; rt3, spent 61 s ago, and the live rt4 stay.
      expect((await tokenRowsOf(gw, sessionId)).map((row) => row.spentAt === null).sort()).toEqual([false, true]);
      for (const spent of [rt1, rt2]) expect(await refreshCode(gw, spent)).toBe('INVALID_TOKEN');
      expect((await sessionRowOf(gw, sessionId)).revokedAt).toBeNull();
      expect((await rotate(gw, rt4)).refreshToken).toEqual(expect.any(String));
    } finally {
      gw.clock.advance(-moved);
    }
  });

  it('are kept a day at least, however short REFRESH_TOKEN_IDLE_TTL: the owner back after two hours still ends the session', async () => {
    const login = await signUp(gw);
    const sessionId = sessionIdOf(login.accessToken);
    const live = (await rotate(gw, login.refreshToken)).refreshToken!; // the thief's refresh
    let moved = 0;
    try {
      gw.clock.advance(7200);
      moved = 7200;
      // An idle TTL of an hour: spent tokens would otherwise go after one.
      await prune({ ...gw.deps, settings: { ...gw.deps.settings, refresh: { ...gw.deps.settings.refresh, idleTtl: 3600 } } });
      expect(await tokenRowsOf(gw, sessionId)).toHaveLength(2);
      expect(await refreshCode(gw, login.refreshToken)).toBe('INVALID_TOKEN');
      expect((await sessionRowOf(gw, sessionId)).revokedReason).toBe('refresh_reuse');
      expect(await refreshCode(gw, live)).toBe('INVALID_TOKEN');
    } finally {
      gw.clock.advance(-moved);
    }
  });

  // Instances prune hourly, and may do so at the same moment: had the two deletions any rows in
  // common (a dead session's spent tokens), they could lock them in different orders (deadlock).
  it("are deleted one by one only in live sessions: a dead session's go with it, by the other deletion", async () => {
    const live = await threeGenerations();
    const dead = await threeGenerations();
    await gw.database.db.update(sessions).set({ revokedAt: gw.clock.now(), revokedReason: 'logout' }).where(eq(sessions.id, dead.sessionId));
    const later = new Date(gw.clock.now().getTime() + 1000);
    expect(await gw.deps.sessions.pruneSpentTokens(later, later)).toBeGreaterThanOrEqual(2);
    expect(await tokenRowsOf(gw, live.sessionId)).toHaveLength(1);
    expect(await tokenRowsOf(gw, dead.sessionId)).toHaveLength(3);
    expect(await gw.deps.sessions.prune(later)).toBeGreaterThanOrEqual(1);
    expect(await tokenRowsOf(gw, dead.sessionId)).toHaveLength(0);
  });

  it('go with a session idle for over a day; a session idle for less is kept, with its tokens', async () => {
    const [longIdle, lately] = [await threeGenerations(), await threeGenerations()];
    const idleSince = (sessionId: string, seconds: number) =>
      gw.database.db.update(sessions).set({ idleExpiresAt: new Date(gw.clock.now().getTime() - seconds * 1000) }).where(eq(sessions.id, sessionId));
    await idleSince(longIdle.sessionId, 86_400 + 5);
    await idleSince(lately.sessionId, 86_400 - 60);
    await prune(gw.deps);
    expect(await tokenRowsOf(gw, longIdle.sessionId)).toHaveLength(0);
    expect(await gw.database.db.select({ id: sessions.id }).from(sessions).where(eq(sessions.id, longIdle.sessionId))).toEqual([]);
    expect(await tokenRowsOf(gw, lately.sessionId)).toHaveLength(3);
  });

  it.runIf(process.env.DATABASE_URL)('are pruned around rows another transaction holds, without waiting (PostgreSQL)', async () => {
    const [held, free] = [await threeGenerations(), await threeGenerations()];
    for (const { sessionId } of [held, free]) {
      await gw.database.db.update(sessions).set({ revokedAt: gw.clock.now(), revokedReason: 'logout' }).where(eq(sessions.id, sessionId));
    }
    const live = await threeGenerations();
    const [liveHeld] = (await tokenRowsOf(gw, live.sessionId)).filter((row) => row.spentAt !== null);
    const later = new Date(gw.clock.now().getTime() + 1000);
    await gw.database.db.transaction(async (tx) => {
      // Another instance's prune, say, holding one dead session and one spent token.
      await tx.execute(sql`SELECT 1 FROM sessions WHERE id = ${held.sessionId} FOR UPDATE`);
      await tx.execute(sql`SELECT 1 FROM refresh_tokens WHERE id = ${liveHeld!.id} FOR UPDATE`);
      expect(await gw.deps.sessions.prune(later)).toBeGreaterThanOrEqual(1);
      expect(await gw.deps.sessions.pruneSpentTokens(later, later)).toBeGreaterThanOrEqual(1);
    });
    expect(await tokenRowsOf(gw, free.sessionId)).toHaveLength(0);
    expect(await tokenRowsOf(gw, held.sessionId)).toHaveLength(3); // skipped: the next run takes it
    expect((await tokenRowsOf(gw, live.sessionId)).map((row) => row.id)).toContain(liveHeld!.id);
    expect(await gw.deps.sessions.prune(later)).toBeGreaterThanOrEqual(1);
    expect(await tokenRowsOf(gw, held.sessionId)).toHaveLength(0);
  });
});
