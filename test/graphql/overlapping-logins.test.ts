// Rule: ending all of a user's sessions (logoutAll, a password change, a removed role) also ends the
// logins and MFA challenges that were checked before it and finish after it: none of them starts
// a session that survives. A login's rehash of an old-parameter hash never undoes a password
// change that landed meanwhile.
import * as argon2 from 'argon2';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setUserRoles } from '../../src/domain/auth';
import { users } from '../../src/storage/postgres/schema';
import { ChangePasswordDocument, LoginDocument, LogoutAllDocument, MeIdRolesDocument, RefreshDocument, VerifyMfaDocument } from '../gql/graphql';
import { codeOf, PASSWORD, signUp } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { challenge, enableMfa, totpNow } from '../helpers/mfa';

const NEW_PASSWORD = 'Tundra-Lantern-58?';
const BURST = 12;

let gw: TestGateway;
beforeAll(async () => {
  // One hash at a time: a burst's logins all read the account at once, then wait their turn.
  gw = await startGateway({ env: { PASSWORD_HASH_CONCURRENCY: '1', MFA_LIMIT_USER: '1000/900' } });
});
afterAll(() => gw?.close());

type LoginResult = Awaited<ReturnType<typeof login>>;
const login = (email: string, password: string) => gw.gql(LoginDocument, { email, password });

/** `BURST` logins at once; `during` runs once the first has answered, while the rest wait for their hash. */
async function burstAround(email: string, password: string, during: () => Promise<unknown>) {
  const pending = Array.from({ length: BURST }, () => login(email, password));
  await Promise.race(pending);
  await during();
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

/** The sessions the burst's successful logins started: each must be over (access and refresh). */
async function expectAllEnded(results: LoginResult[]) {
  for (const result of results) {
    const payload = result.data?.login;
    if (payload?.__typename !== 'AuthPayload') continue;
    expect(codeOf(await gw.gql(MeIdRolesDocument, {}, { token: payload.accessToken }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await gw.gql(RefreshDocument, { refreshToken: payload.refreshToken }))).toBe('INVALID_TOKEN');
  }
}

const outcomes = (results: LoginResult[]) => results.map((r) => r.data?.login.__typename ?? codeOf(r));

describe('logins that overlap the end of all sessions', () => {
  it('logoutAll: logins checked before it and finished after it start no session that outlives it', async () => {
    const user = await signUp(gw);
    const results = await burstAround(user.email, user.password, async () => {
      expect((await gw.gql(LogoutAllDocument, {}, { token: user.accessToken })).errors).toBeUndefined();
    });
    // The logins still waiting for their hash when logoutAll came are refused, not counted.
    expect(outcomes(results)).toContain('INVALID_CREDENTIALS');
    expect(outcomes(results).every((o) => o === 'AuthPayload' || o === 'INVALID_CREDENTIALS')).toBe(true);
    await expectAllEnded(results);
    expect((await login(user.email, user.password)).data?.login.__typename).toBe('AuthPayload');
  });

  it('a removed role: logins checked before the removal start no session that keeps it', async () => {
    const user = await signUp(gw);
    await setUserRoles(gw.deps, user.user.id, ['user', 'editor']);
    const results = await burstAround(user.email, user.password, () => setUserRoles(gw.deps, user.user.id, ['user']));
    expect(outcomes(results)).toContain('INVALID_CREDENTIALS');
    await expectAllEnded(results);
    const after = await login(user.email, user.password);
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
