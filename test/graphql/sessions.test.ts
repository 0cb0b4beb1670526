// Rule: a user sees and ends only their own sessions; logoutAll and changePassword end sessions as promised; logout is no validity oracle.
import { eq, sql } from 'drizzle-orm';
import { sessions } from '../../src/storage/postgres/schema';
import { randomUUID } from 'node:crypto';
import { CLOCK_SKEW_SECONDS, MAX_ACCESS_TOKEN_TTL } from '../../src/domain/tokens';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChangePasswordDocument,
  LoginDocument,
  LogoutAllDocument,
  LogoutDocument,
  MeDocument,
  RevokeSessionDocument,
  SessionsDocument,
} from '../gql/graphql';
import { codeOf, signUp } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { beforeNextCall } from '../helpers/hooks';
import { logIn, refreshCode, rotate, sessionIdOf, sessionRowOf, untilWaiting } from '../helpers/sessions';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway();
});
afterAll(() => gw.close());

/** A user with two sessions, logged in from two user agents. */
async function twoSessions() {
  const first = await signUp(gw);
  const second = await logIn(gw, first.email, first.password, { headers: { 'user-agent': 'Phone/2.0' } });
  return { first, second };
}

const revoke = (token: string, id: string) => gw.gql(RevokeSessionDocument, { id }, { token });

describe('sessions', () => {
  it("lists the caller's live sessions, marking only the token's own as current", async () => {
    const first = await signUp(gw);
    const second = await logIn(gw, first.email, first.password, { headers: { 'user-agent': 'Laptop/1.0' } });
    await signUp(gw); // someone else's session must not show up

    const result = await gw.gql(SessionsDocument, {}, { token: second.accessToken });
    expect(result.errors).toBeUndefined();
    const list = result.data!.sessions;
    // Oldest first.
    expect(list.map((s) => s.id)).toEqual([sessionIdOf(first.accessToken), sessionIdOf(second.accessToken)]);
    const current = list.filter((s) => s.current);
    expect(current.map((s) => s.id)).toEqual([sessionIdOf(second.accessToken)]);
    expect(current[0]).toMatchObject({ userAgent: 'Laptop/1.0', ip: '127.0.0.1' });
    // When it ends unless refreshed: the idle expiry, before the absolute one (14 and 30 days by default).
    const { idleTtl, maxTtl } = gw.deps.settings.refresh;
    expect(idleTtl).toBeLessThan(maxTtl);
    expect(new Date(current[0]!.expiresAt).getTime() - new Date(current[0]!.createdAt).getTime()).toBe(idleTtl * 1000);
  });

  it('needs an access token', async () => {
    expect(codeOf(await gw.gql(SessionsDocument, {}))).toBe('UNAUTHENTICATED');
  });
});

describe('revokeSession', () => {
  it("ends the caller's other session (true) and answers false once it is already revoked", async () => {
    const { first, second } = await twoSessions();
    const otherId = sessionIdOf(second.accessToken);
    expect((await revoke(first.accessToken, otherId)).data?.revokeSession).toBe(true);
    expect(await refreshCode(gw, second.refreshToken)).toBe('INVALID_TOKEN');
    expect((await rotate(gw, first.refreshToken)).refreshToken).toBeTruthy();
    expect((await revoke(first.accessToken, otherId)).data?.revokeSession).toBe(false);
  });

  it('answers false for a foreign, an unknown and a malformed id, and revokes nothing', async () => {
    const { first, second } = await twoSessions();
    const stranger = await signUp(gw);
    for (const id of [sessionIdOf(stranger.accessToken), randomUUID(), 'not-a-uuid']) {
      const result = await revoke(first.accessToken, id);
      expect(result.errors).toBeUndefined();
      expect(result.data?.revokeSession).toBe(false);
    }
    // Nor announced: the stranger's access token still passes, here and wherever the feed reaches.
    expect(gw.deps.revocations.isRevoked(sessionIdOf(stranger.accessToken), gw.clock.now())).toBe(false);
    expect((await gw.gql(MeDocument, {}, { token: stranger.accessToken })).data?.me.id).toBe(stranger.user.id);
    expect((await rotate(gw, stranger.refreshToken)).refreshToken).toBeTruthy();
    expect((await rotate(gw, first.refreshToken)).refreshToken).toBeTruthy();
    expect((await rotate(gw, second.refreshToken)).refreshToken).toBeTruthy();
  });
});

describe('revokeSession, on sessions that ended by themselves', () => {
  let short: TestGateway;
  beforeAll(async () => {
    short = await startGateway({ env: { REFRESH_TOKEN_IDLE_TTL: '120', REFRESH_TOKEN_MAX_TTL: '300' } });
  });
  afterAll(() => short?.close());
  const revokeOn = (token: string, id: string) => short.gql(RevokeSessionDocument, { id }, { token });
  type Tokens = { accessToken: string; refreshToken?: string | null };

  it("answers false for the caller's own session once it has expired, idle or at its maximum age", async () => {
    const idle = await signUp(short);
    let keeper: Tokens = await logIn(short, idle.email, idle.password);
    short.clock.advance(100);
    keeper = await rotate(short, keeper.refreshToken);
    short.clock.advance(30); // `idle` has had no refresh for 130 s
    expect((await revokeOn(keeper.accessToken, sessionIdOf(idle.accessToken))).data?.revokeSession).toBe(false);

    // `keeper` (logged in at 0 s) is refreshed on time, but reaches REFRESH_TOKEN_MAX_TTL at 300 s (a refresh never
    // slides the idle expiry past it, so the idle condition alone would refuse it too).
    let caller: Tokens = await logIn(short, idle.email, idle.password);
    for (let i = 0; i < 2; i++) {
      short.clock.advance(80);
      keeper = await rotate(short, keeper.refreshToken);
      caller = await rotate(short, caller.refreshToken);
    }
    short.clock.advance(20);
    expect(await refreshCode(short, keeper.refreshToken)).toBe('INVALID_TOKEN');
    expect((await revokeOn(caller.accessToken, sessionIdOf(keeper.accessToken))).data?.revokeSession).toBe(false);

    // The control: a live one of the caller's own sessions is ended (true).
    const live = await logIn(short, idle.email, idle.password);
    expect((await revokeOn(caller.accessToken, sessionIdOf(live.accessToken))).data?.revokeSession).toBe(true);
  });

  it('logoutAll ends, counts and announces only the sessions whose tokens may still pass', async () => {
    const user = await signUp(short);
    const expired = sessionIdOf(user.accessToken);
    // Idle, and longer ago than any token lives (even one signed before tokens expired with
    // their session): the longest ACCESS_TOKEN_TTL + the skew.
    short.clock.advance(120 + MAX_ACCESS_TOKEN_TTL + 61);
    // Idle a moment ago: a token signed before tokens expired with their session (or one whose
    // session a shorter REFRESH_TOKEN_IDLE_TTL elsewhere cut short) may still pass. Ended.
    const lately = sessionIdOf((await logIn(short, user.email, user.password)).accessToken);
    short.clock.advance(120 + 2 * CLOCK_SKEW_SECONDS);
    const current = await logIn(short, user.email, user.password);
    const from = short.logs.length;
    expect((await short.gql(LogoutAllDocument, {}, { token: current.accessToken })).data?.logoutAll).toBe(true);
    const line = short.logs.slice(from).map((l) => JSON.parse(l) as { msg: string; endedSessions?: number }).find((l) => l.msg === 'logged out everywhere');
    expect(line?.endedSessions).toBe(2);
    expect((await sessionRowOf(short, lately)).revokedAt).not.toBeNull();
    expect(short.deps.revocations.isRevoked(lately, short.clock.now())).toBe(true);
    expect((await sessionRowOf(short, expired)).revokedAt).toBeNull();
    expect(short.deps.revocations.isRevoked(expired, short.clock.now())).toBe(false);
    expect(short.deps.revocations.isRevoked(sessionIdOf(current.accessToken), short.clock.now())).toBe(true);
  });
});

describe('logoutAll', () => {
  it("ends every session of the caller, the current one included, and nobody else's", async () => {
    const { first, second } = await twoSessions();
    const stranger = await signUp(gw);
    const result = await gw.gql(LogoutAllDocument, {}, { token: first.accessToken });
    expect(result.data?.logoutAll).toBe(true);
    expect(await refreshCode(gw, first.refreshToken)).toBe('INVALID_TOKEN');
    expect(await refreshCode(gw, second.refreshToken)).toBe('INVALID_TOKEN');
    // Instant revocation: the caller's own access token is anonymous from now on.
    expect(codeOf(await gw.gql(SessionsDocument, {}, { token: first.accessToken }))).toBe('UNAUTHENTICATED');
    expect((await rotate(gw, stranger.refreshToken)).refreshToken).toBeTruthy();
  });

  it('leaves alone a session idle for longer than any token lives, however far off its absolute end', async () => {
    const user = await signUp(gw);
    const [idleLongAgo, idleLately] = [await logIn(gw, user.email, user.password), await logIn(gw, user.email, user.password)].map((s) => sessionIdOf(s.accessToken));
    const idleSince = async (id: string, seconds: number) =>
      gw.database.db.update(sessions).set({ idleExpiresAt: new Date(gw.clock.now().getTime() - seconds * 1000) }).where(eq(sessions.id, id));
    await idleSince(idleLongAgo!, MAX_ACCESS_TOKEN_TTL + CLOCK_SKEW_SECONDS + 5);
    await idleSince(idleLately!, CLOCK_SKEW_SECONDS);
    expect(+(await sessionRowOf(gw, idleLongAgo!)).expiresAt).toBeGreaterThan(Date.now() + 86_400_000);
    expect((await gw.gql(LogoutAllDocument, {}, { token: user.accessToken })).data?.logoutAll).toBe(true);
    expect((await sessionRowOf(gw, idleLongAgo!)).revokedAt).toBeNull();
    expect((await sessionRowOf(gw, idleLately!)).revokedAt).not.toBeNull();
  });
});

describe('changePassword', () => {
  const NEW_PASSWORD = 'Heron-Basalt-58?';

  it('refuses a wrong current password with INVALID_CREDENTIALS, saying password (no email was given)', async () => {
    const user = await signUp(gw);
    const result = await gw.gql(
      ChangePasswordDocument,
      { currentPassword: 'Wrong-Password-1!', newPassword: NEW_PASSWORD },
      { token: user.accessToken },
    );
    expect(codeOf(result)).toBe('INVALID_CREDENTIALS');
    expect(result.errors![0]!.message).toBe('Invalid password.');
  });

  it('refuses a weak new password with WEAK_PASSWORD', async () => {
    const user = await signUp(gw);
    const result = await gw.gql(
      ChangePasswordDocument,
      { currentPassword: user.password, newPassword: 'short' },
      { token: user.accessToken },
    );
    expect(codeOf(result)).toBe('WEAK_PASSWORD');
  });

  it('keeps the current session, ends the others, and swaps which password logs in', async () => {
    const { first, second } = await twoSessions();
    const result = await gw.gql(
      ChangePasswordDocument,
      { currentPassword: first.password, newPassword: NEW_PASSWORD },
      { token: first.accessToken },
    );
    expect(result.data?.changePassword).toBe(true);
    expect((await sessionRowOf(gw, sessionIdOf(second.accessToken))).revokedReason).toBe('password_changed');
    expect(await refreshCode(gw, second.refreshToken)).toBe('INVALID_TOKEN');
    expect((await rotate(gw, first.refreshToken)).refreshToken).toBeTruthy();
    expect(codeOf(await gw.gql(LoginDocument, { email: first.email, password: first.password }))).toBe(
      'INVALID_CREDENTIALS',
    );
    expect((await logIn(gw, first.email, NEW_PASSWORD)).user.id).toBe(first.user.id);
  });

  it('overtaken while its current password is checked by a change from the same session, is checked again: INVALID_CREDENTIALS, the other change stands', async () => {
    const user = await signUp(gw);
    const change = (newPassword: string, currentPassword: string) =>
      gw.gql(ChangePasswordDocument, { currentPassword, newPassword }, { token: user.accessToken }).then((r) => codeOf(r) ?? r.data!.changePassword);
    const other = 'Other-Tab-Choice-31!';
    let overtook: string | boolean | undefined;
    beforeNextCall(gw.deps.hasher, 'verify', async () => {
      overtook = await change(other, user.password);
    });
    expect(await change('This-Tab-Choice-42!', user.password)).toBe('INVALID_CREDENTIALS');
    expect(overtook).toBe(true);
    expect((await logIn(gw, user.email, other)).user.id).toBe(user.user.id);
  });

  it('overtaken twice, gives up: UNAUTHENTICATED, and nothing of its own lands', async () => {
    const user = await signUp(gw);
    // Each of its two writes finds the account's epoch moved by another change of this session,
    // one that keeps the password as it is (so that the second round's check passes).
    const overtake = async () => {
      const result = await gw.gql(ChangePasswordDocument, { currentPassword: user.password, newPassword: user.password }, { token: user.accessToken });
      expect(result.data?.changePassword).toBe(true);
    };
    beforeNextCall(gw.deps.sessions, 'changePassword', async () => {
      await overtake();
      beforeNextCall(gw.deps.sessions, 'changePassword', overtake);
    });
    const result = await gw.gql(ChangePasswordDocument, { currentPassword: user.password, newPassword: 'Never-Lands-53!' }, { token: user.accessToken });
    expect(codeOf(result)).toBe('UNAUTHENTICATED');
    expect((await logIn(gw, user.email, user.password)).user.id).toBe(user.user.id);
  });

  it('keeps at most 512 characters of a user agent', async () => {
    const user = await signUp(gw);
    const second = await logIn(gw, user.email, user.password, { headers: { 'user-agent': `Agent/${'x'.repeat(2000)}` } });
    const listed = await gw.gql(SessionsDocument, {}, { token: second.accessToken });
    const mine = listed.data!.sessions.find((session) => session.current)!;
    expect(mine.userAgent).toBe(`Agent/${'x'.repeat(506)}`);
  });

  it('changes nothing once all sessions ended since the password was checked, or the caller\'s session did', async () => {
    const { first, second } = await twoSessions();
    const record = (await gw.deps.users.findById(first.user.id))!;
    const change = (keepSessionId: string, checkedInEpoch: number) =>
      gw.deps.sessions.changePassword({ userId: first.user.id, keepSessionId, checkedInEpoch, passwordHash: 'not-a-hash', now: gw.clock.now() });
    expect(await change(sessionIdOf(first.accessToken), record.sessionEpoch - 1)).toBeNull();
    // Nor on an account disabled since (its sessions not yet ended: disableUser's next step).
    await gw.deps.users.setDisabled(first.user.id, gw.clock.now());
    expect(await change(sessionIdOf(first.accessToken), record.sessionEpoch)).toBeNull();
    await gw.deps.users.setDisabled(first.user.id, null);
    await revoke(first.accessToken, sessionIdOf(second.accessToken));
    expect(await change(sessionIdOf(second.accessToken), record.sessionEpoch)).toBeNull();
    // Nothing changed: the password, the epoch and the first session are as they were.
    expect(await gw.deps.users.findById(first.user.id)).toEqual(record);
    expect((await rotate(gw, first.refreshToken)).refreshToken).toBeTruthy();
  });

  // The password check (argon2) takes tens of milliseconds, while the owner may act. Held at the
  // user's row, the changes checked meanwhile all wait for it; PGlite's one connection cannot.
  describe.runIf(process.env.DATABASE_URL)('checked while the owner acts (PostgreSQL)', () => {
    const changeFrom = (token: string, newPassword: string, currentPassword: string) =>
      gw.gql(ChangePasswordDocument, { currentPassword, newPassword }, { token }).then((r) => codeOf(r) ?? r.data!.changePassword);

    /**
     * Two changes of `user`'s password, one from each token, to `passwords`, both checked (the
     * current password) while the user's row is held, then let through at once: their answers.
     */
    async function changedAtOnce(user: { user: { id: string }; password: string }, tokens: [string, string], passwords: string[]) {
      let results!: Promise<Array<string | boolean>>;
      await gw.database.db.transaction(async (tx) => {
        await tx.execute(sql`SELECT 1 FROM users WHERE id = ${user.user.id} FOR UPDATE`);
        const one = changeFrom(tokens[0], passwords[0]!, user.password);
        await untilWaiting(tx, 1);
        const other = changeFrom(tokens[1], passwords[1]!, user.password);
        await untilWaiting(tx, 2);
        results = Promise.all([one, other]);
      });
      return results;
    }

    it('of two changes checked at once, exactly one lands: the other changes nothing, its session ended by the first', async () => {
      const { first, second } = await twoSessions();
      const passwords = ['Owner-Reclaims-Account-55!', 'Thief-Keeps-Account-66!'];
      const outcome = await changedAtOnce(first, [first.accessToken, second.accessToken], passwords);
      expect([...outcome].sort()).toEqual(['UNAUTHENTICATED', true]);
      const winner = outcome.indexOf(true);
      const [kept, lost] = winner === 0 ? [first, second] : [second, first];
      expect((await logIn(gw, first.email, passwords[winner]!)).user.id).toBe(first.user.id);
      expect(codeOf(await gw.gql(LoginDocument, { email: first.email, password: passwords[1 - winner]! }))).toBe('INVALID_CREDENTIALS');
      expect(codeOf(await gw.gql(LoginDocument, { email: first.email, password: first.password }))).toBe('INVALID_CREDENTIALS');
      expect((await rotate(gw, kept.refreshToken)).refreshToken).toBeTruthy();
      expect(await refreshCode(gw, lost.refreshToken)).toBe('INVALID_TOKEN');
    });

    it('of two changes checked at once from one session, one lands; the other, checked again, finds the password changed', async () => {
      const { first } = await twoSessions();
      const passwords = ['First-Tab-Choice-77!', 'Second-Tab-Choice-88!'];
      const outcome = await changedAtOnce(first, [first.accessToken, first.accessToken], passwords);
      expect([...outcome].sort()).toEqual(['INVALID_CREDENTIALS', true]);
      const winner = outcome.indexOf(true);
      expect((await logIn(gw, first.email, passwords[winner]!)).user.id).toBe(first.user.id);
      expect(codeOf(await gw.gql(LoginDocument, { email: first.email, password: passwords[1 - winner]! }))).toBe('INVALID_CREDENTIALS');
      expect((await rotate(gw, first.refreshToken)).refreshToken).toBeTruthy();
    });

    it('overtaken by a change that ended the other sessions but kept its own (MFA turned on there), it is checked again and lands', async () => {
      const { first, second } = await twoSessions();
      const newPassword = 'Changed-After-Mfa-99!';
      let ending!: Promise<string[]>;
      let result!: Promise<string | boolean>;
      await gw.database.db.transaction(async (tx) => {
        await tx.execute(sql`SELECT 1 FROM users WHERE id = ${first.user.id} FOR UPDATE`);
        // What confirmMfa in the caller's session does, queued first: the others end, a new session epoch begins.
        ending = gw.deps.sessions.revokeAllOfUser(first.user.id, 'mfa_changed', gw.clock.now(), sessionIdOf(first.accessToken));
        await untilWaiting(tx, 1);
        result = changeFrom(first.accessToken, newPassword, first.password);
        await untilWaiting(tx, 2);
      });
      expect(await ending).toEqual([sessionIdOf(second.accessToken)]);
      expect(await result).toBe(true);
      expect((await logIn(gw, first.email, newPassword)).user.id).toBe(first.user.id);
      expect((await rotate(gw, first.refreshToken)).refreshToken).toBeTruthy();
      expect(await refreshCode(gw, second.refreshToken)).toBe('INVALID_TOKEN');
    });

    it('holds its own session until it commits: a revocation of that session sent meanwhile answers only after the change', async () => {
      const { first: owner, second: stolen } = await twoSessions();
      const order: string[] = [];
      let done!: Promise<unknown>;
      await gw.database.db.transaction(async (tx) => {
        // The owner's session held: the change stops where it ends it, its own session locked.
        await tx.execute(sql`SELECT 1 FROM sessions WHERE id = ${sessionIdOf(owner.accessToken)} FOR SHARE`);
        const change = changeFrom(stolen.accessToken, 'Thief-Keeps-Account-66!', owner.password).then((r) => (order.push('change'), r));
        await untilWaiting(tx, 1);
        const revocation = revoke(owner.accessToken, sessionIdOf(stolen.accessToken)).then((r) => (order.push('revoke'), r));
        await untilWaiting(tx, 2); // the revocation waits for the change
        // And answers nothing while the change is held. (Once both go on, which answer reaches
        // the test first says nothing: the change still has work to do after its commit.)
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(order).toEqual([]);
        done = Promise.all([change, revocation]);
      });
      const [changed, revoked] = (await done) as [unknown, { data?: { revokeSession: boolean } | null }];
      expect(changed).toBe(true);
      expect(revoked.data?.revokeSession).toBe(true);
      expect([...order].sort()).toEqual(['change', 'revoke']);
    });

    it("from a session the owner revoked while its password was checked: nothing changes, the owner's session lives", async () => {
      const { first: owner, second: stolen } = await twoSessions();
      let thief!: Promise<string | boolean>;
      await gw.database.db.transaction(async (tx) => {
        await tx.execute(sql`SELECT 1 FROM users WHERE id = ${owner.user.id} FOR UPDATE`);
        thief = changeFrom(stolen.accessToken, 'Thief-Keeps-Account-66!', owner.password);
        await untilWaiting(tx, 1);
        expect((await revoke(owner.accessToken, sessionIdOf(stolen.accessToken))).data?.revokeSession).toBe(true);
      });
      expect(await thief).toBe('UNAUTHENTICATED');
      expect((await logIn(gw, owner.email, owner.password)).user.id).toBe(owner.user.id);
      expect(codeOf(await gw.gql(LoginDocument, { email: owner.email, password: 'Thief-Keeps-Account-66!' }))).toBe('INVALID_CREDENTIALS');
      expect((await rotate(gw, owner.refreshToken)).refreshToken).toBeTruthy();
    });
  });
});

describe('logout', () => {
  it('ends the session of a valid token', async () => {
    const user = await signUp(gw);
    expect((await gw.gql(LogoutDocument, { refreshToken: user.refreshToken })).data?.logout).toBe(true);
    expect(await refreshCode(gw, user.refreshToken)).toBe('INVALID_TOKEN');
  });

  it('answers true for a revoked, an unknown, a garbage and a missing token alike', async () => {
    const user = await signUp(gw);
    await gw.gql(LogoutDocument, { refreshToken: user.refreshToken });
    for (const refreshToken of [user.refreshToken, 'A'.repeat(43), 'garbage', undefined]) {
      const result = await gw.gql(LogoutDocument, { refreshToken });
      expect(result.errors).toBeUndefined();
      expect(result.data?.logout).toBe(true);
    }
  });
});
