// Rule: ending all of a user's sessions (logoutAll, a password change, a removed role) also ends the
// logins and MFA challenges that were checked before it and finish after it: none of them starts
// a session that survives. A login's rehash of an old-parameter hash never undoes a password
// change that landed meanwhile.
import * as argon2 from 'argon2';
import { eq, sql } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeRoles } from '../../src/domain/auth';
import { sessions, users } from '../../src/storage/postgres/schema';
import { ChangePasswordDocument, LoginDocument, LogoutAllDocument, MeIdRolesDocument, RefreshDocument, VerifyMfaDocument } from '../gql/graphql';
import { codeOf, PASSWORD, signUp } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { challenge, enableMfa, totpNow } from '../helpers/mfa';
import { untilWaiting } from '../helpers/sessions';

const NEW_PASSWORD = 'Tundra-Lantern-58?';
const BURST = 12;

let gw: TestGateway;
beforeAll(async () => {
  // One hash at a time: a stream's logins read the account, then wait their turn.
  gw = await startGateway({ env: { PASSWORD_HASH_CONCURRENCY: '1', MFA_LIMIT_USER: '1000/900' } });
});
afterAll(() => gw?.close());

type LoginResult = Awaited<ReturnType<typeof login>>;
const login = (email: string, password: string, on = gw) => on.gql(LoginDocument, { email, password });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `BURST` logins at once on `held` (one hash place, a queue of `BURST`), while the test holds
 * the one place: each login reads the account, then waits in line. `during` runs once all of
 * them are in line (the queue is full) and have had time to read the account; the place is
 * given up after it, so every password is checked after `during`.
 */
async function burstAround(held: TestGateway, email: string, password: string, during: () => Promise<unknown>) {
  let release!: () => void;
  const holding = held.deps.hasher.reserve('the test').run(() => new Promise<void>((resolve) => (release = resolve)));
  const pending = Array.from({ length: BURST }, () => login(email, password, held));
  for (const deadline = Date.now() + 10_000; ; await sleep(5)) {
    try {
      held.deps.hasher.assertAdmissible('a probe');
    } catch {
      break; // saturated: every login of the burst holds its place in line
    }
    if (Date.now() > deadline) throw new Error('the burst did not fill the line within 10 s');
  }
  await sleep(200); // each reads the account right after taking its place
  try {
    await during();
  } finally {
    release();
    await holding;
  }
  return Promise.all(pending);
}

/**
 * Logins one after another, every few milliseconds, for as long as `during` runs (which hashes
 * too, and so waits its turns among them): some read the account before `during` changes it and
 * finish after. `during` starts once the first login has answered, or with the first login
 * (`atOnce`).
 */
async function streamAround(email: string, password: string, during: () => Promise<unknown>, atOnce = false) {
  const pending: Array<Promise<LoginResult>> = [login(email, password)];
  let done = false;
  const stream = (async () => {
    while (!done && pending.length < 4 * BURST) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      pending.push(login(email, password));
    }
  })();
  if (!atOnce) await Promise.race(pending);
  await during();
  done = true;
  await stream;
  return Promise.all(pending);
}

/**
 * The sessions the successful logins started that read the account before the change (told by
 * the roles their tokens carry: `readBefore`; all, by default): each must be over (access and
 * refresh). A login that read the account after the change is a login like any other.
 */
async function expectAllEnded(results: LoginResult[], on = gw, readBefore: (roles: string[]) => boolean = () => true) {
  for (const result of results) {
    const payload = result.data?.login;
    if (payload?.__typename !== 'AuthPayload' || !readBefore(payload.user.roles)) continue;
    expect(codeOf(await on.gql(MeIdRolesDocument, {}, { token: payload.accessToken }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await on.gql(RefreshDocument, { refreshToken: payload.refreshToken }))).toBe('INVALID_TOKEN');
  }
}

const outcomes = (results: LoginResult[]) => results.map((r) => r.data?.login.__typename ?? codeOf(r));

describe('logins that overlap the end of all sessions', () => {
  let held: TestGateway;
  beforeAll(async () => {
    held = await startGateway({ env: { PASSWORD_HASH_CONCURRENCY: '1', PASSWORD_HASH_QUEUE: String(BURST), PASSWORD_HASH_PER_CLIENT: String(BURST) } });
  });
  afterAll(() => held?.close());

  it('logoutAll: logins checked before it and finished after it start no session that outlives it', async () => {
    const user = await signUp(held);
    const results = await burstAround(held, user.email, user.password, async () => {
      // A role to tell the logins that read the account from here on (they may start sessions).
      await changeRoles(held.deps, user.user.id, () => ['later', 'user']);
      expect((await held.gql(LogoutAllDocument, {}, { token: user.accessToken })).errors).toBeUndefined();
    });
    // The logins that read the account before logoutAll are refused, not counted.
    expect(outcomes(results)).toContain('INVALID_CREDENTIALS');
    expect(outcomes(results).every((o) => o === 'AuthPayload' || o === 'INVALID_CREDENTIALS')).toBe(true);
    await expectAllEnded(results, held, (roles) => !roles.includes('later'));
    expect((await login(user.email, user.password, held)).data?.login.__typename).toBe('AuthPayload');
  });

  it('a removed role: logins checked before the removal start no session that keeps it', async () => {
    const user = await signUp(held);
    await changeRoles(held.deps, user.user.id, () => ['editor', 'user']);
    const results = await burstAround(held, user.email, user.password, () => changeRoles(held.deps, user.user.id, () => ['user']));
    expect(outcomes(results)).toContain('INVALID_CREDENTIALS');
    await expectAllEnded(results, held, (roles) => roles.includes('editor'));
    const after = await login(user.email, user.password, held);
    expect(after.data?.login.__typename === 'AuthPayload' && after.data.login.user.roles).toEqual(['user']);
  });

  it('a password change: logins with the old password that overlap it start no lasting session', async () => {
    const user = await signUp(gw);
    const results = await streamAround(user.email, user.password, async () => {
      const changed = await gw.gql(ChangePasswordDocument, { currentPassword: user.password, newPassword: NEW_PASSWORD }, { token: user.accessToken });
      expect(changed.errors).toBeUndefined();
    });
    await expectAllEnded(results);
    expect(codeOf(await login(user.email, user.password))).toBe('INVALID_CREDENTIALS');
    expect((await login(user.email, NEW_PASSWORD)).data?.login.__typename).toBe('AuthPayload');
  });

  it("a login's rehash of an old-parameter hash does not undo a password change that landed meanwhile", async () => {
    const user = await signUp(gw);
    // As if ARGON2_* had been raised since the password was set: every login rehashes it.
    const weak = await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 8192, timeCost: 1, parallelism: 1 });
    await gw.database.db.update(users).set({ passwordHash: weak }).where(eq(users.email, user.email));
    // The change starts with the logins, while they still read the old-parameter hash: their
    // rehashes wait their turns for a hash among the change's own.
    await streamAround(
      user.email,
      user.password,
      async () => {
        const changed = await gw.gql(ChangePasswordDocument, { currentPassword: user.password, newPassword: NEW_PASSWORD }, { token: user.accessToken });
        expect(changed.errors).toBeUndefined();
      },
      true,
    );
    expect(codeOf(await login(user.email, user.password))).toBe('INVALID_CREDENTIALS');
    expect((await login(user.email, NEW_PASSWORD)).data?.login.__typename).toBe('AuthPayload');
  });
});

// A session committed by a login while all sessions end: the ending waits for it and ends it too.
describe.runIf(process.env.DATABASE_URL)('a session being created while all sessions end (PostgreSQL)', () => {
  it('is ended with the others: the epoch is raised first, which waits for the creation, and the ending then sees it', async () => {
    const user = await signUp(gw);
    const id = randomUUID();
    const now = gw.clock.now();
    let ending!: Promise<string[]>;
    await gw.database.db.transaction(async (tx) => {
      // What create holds while it inserts: the user's row (NO KEY UPDATE), the new session not yet committed.
      await tx.execute(sql`SELECT 1 FROM users WHERE id = ${user.user.id} FOR NO KEY UPDATE`);
      await tx.insert(sessions).values({ id, userId: user.user.id, amr: ['pwd'], createdAt: now, lastUsedAt: now, idleExpiresAt: new Date(now.getTime() + 86_400_000), expiresAt: new Date(now.getTime() + 2 * 86_400_000) });
      ending = gw.deps.sessions.revokeAllOfUser(user.user.id, 'logout_all', now);
      await untilWaiting(tx, 1);
    });
    expect(await ending).toContain(id);
    const [row] = await gw.database.db.select({ revokedAt: sessions.revokedAt }).from(sessions).where(eq(sessions.id, id));
    expect(row?.revokedAt).not.toBeNull();
  });
});

describe('MFA challenges that overlap the end of all sessions', () => {
  async function mfaUser() {
    const user = await signUp(gw);
    return { ...user, ...(await enableMfa(gw, user.accessToken, user.password)) };
  }

  it('a challenge from before a password change cannot start a session', async () => {
    const user = await mfaUser();
    const { mfaToken } = await challenge(gw, user.email, user.password);
    const changed = await gw.gql(ChangePasswordDocument, { currentPassword: user.password, newPassword: NEW_PASSWORD }, { token: user.accessToken });
    expect(changed.errors).toBeUndefined();
    gw.clock.advance(30); // the next time step: the code that confirmed MFA is spent
    const code = totpNow(gw, user.secret);
    expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken, code }))).toBe('INVALID_TOKEN');
    // Refused before the code was spent: it still logs in with a challenge from now.
    const fresh = await challenge(gw, user.email, NEW_PASSWORD);
    expect((await gw.gql(VerifyMfaDocument, { mfaToken: fresh.mfaToken, code })).errors).toBeUndefined();
  });

  it('a challenge from before logoutAll cannot start a session; one from after it can', async () => {
    const user = await mfaUser();
    const before = await challenge(gw, user.email, user.password);
    expect((await gw.gql(LogoutAllDocument, {}, { token: user.accessToken })).errors).toBeUndefined();
    gw.clock.advance(30);
    expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken: before.mfaToken, code: totpNow(gw, user.secret) }))).toBe('INVALID_TOKEN');
    const after = await challenge(gw, user.email, user.password);
    gw.clock.advance(30);
    const verified = await gw.gql(VerifyMfaDocument, { mfaToken: after.mfaToken, code: totpNow(gw, user.secret) });
    expect(verified.errors).toBeUndefined();
  });
});
