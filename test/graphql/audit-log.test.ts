// Rule: every security event leaves one audit line at its level, with who, which session and
// from where, and never an email, a password, a token, a hash or a code.
import { sql } from 'drizzle-orm';
import { print } from 'graphql';
import { decodeJwt } from 'jose';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { auditLog, createLogger } from '../../src/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disableUser, grantRole } from '../../src/domain/admin';
import { hashOpaqueToken } from '../../src/domain/tokens';
import {
  ChangePasswordDocument,
  ConfirmMfaDocument,
  DisableMfaDocument,
  EnrollMfaDocument,
  LoginDocument,
  LogoutAllDocument,
  LogoutDocument,
  RegisterDocument,
  RevokeSessionDocument,
  RefreshDocument,
  RegenerateRecoveryCodesDocument,
  SetUserRolesDocument,
  VerifyMfaDocument,
} from '../gql/graphql';
import { codeOf, signUp, uniqueEmail } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { challenge, enableMfa, loginWithMfa, totpNow, wrongCode } from '../helpers/mfa';

const INFO = 30;
const WARN = 40;

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway();
});
afterAll(() => gw?.close());

type Line = Record<string, unknown> & { level: number; msg: string };

/** The audit lines of `event` logged since `from`. */
const audited = (event: string, from = 0): Line[] =>
  gw.logs
    .slice(from)
    .map((l) => JSON.parse(l) as Line)
    .filter((l) => l.audit === true && l.msg === event);

/** Nothing logged since `from` holds any of `secrets` (nor the hash the store keeps of a token). */
function expectNoneLogged(from: number, secrets: string[]) {
  const logged = gw.logs.slice(from).join('');
  for (const secret of secrets) {
    expect(logged).not.toContain(secret);
    expect(logged).not.toContain(hashOpaqueToken(secret));
  }
}

const sid = (accessToken: string) => decodeJwt(accessToken).sid as string;

/** Sends `document` on a connection of its own that it closes at once, not waiting for the answer; settles once closed. */
function sendAndHangUp(document: string, variables: Record<string, unknown>) {
  const body = JSON.stringify({ query: document, variables });
  return new Promise<void>((resolve) => {
    const socket = connect(Number(new URL(gw.url).port), '127.0.0.1', () => {
      socket.write(`POST /graphql HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, () =>
        socket.destroy(),
      );
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve());
  });
}

describe('signing in', () => {
  it("'login succeeded' names the user, the session and its amr, for a password and for MFA", async () => {
    const from = gw.logs.length;
    const user = await signUp(gw);
    const [pwd] = audited('login succeeded', from);
    expect(pwd).toMatchObject({ level: INFO, userId: user.user.id, sessionId: sid(user.accessToken), amr: ['pwd'], ip: '127.0.0.1' });

    const { secret, recoveryCodes } = await enableMfa(gw, user.accessToken, user.password);
    gw.clock.advance(30);
    const code = totpNow(gw, secret);
    const mfa = await loginWithMfa(gw, user.email, user.password, code);
    const lines = audited('login succeeded', from);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ level: INFO, userId: user.user.id, sessionId: sid(mfa.accessToken), amr: ['pwd', 'otp'] });
    expectNoneLogged(from, [user.email, user.password, user.accessToken, user.refreshToken!, mfa.accessToken, mfa.refreshToken!, secret, code, ...recoveryCodes]);
  });

  it("'password rejected' names the account when there is one, otherwise only the client address", async () => {
    const user = await signUp(gw);
    const unknown = uniqueEmail('nobody');
    const wrong = 'Wrong-Password-42!';
    const from = gw.logs.length;
    expect(codeOf(await gw.gql(LoginDocument, { email: user.email, password: wrong }))).toBe('INVALID_CREDENTIALS');
    expect(codeOf(await gw.gql(LoginDocument, { email: unknown, password: wrong }))).toBe('INVALID_CREDENTIALS');
    expect(codeOf(await gw.gql(LoginDocument, { email: 'not an email', password: wrong }))).toBe('INVALID_CREDENTIALS');
    expect(codeOf(await gw.gql(EnrollMfaDocument, { password: wrong }, { token: user.accessToken }))).toBe('INVALID_CREDENTIALS');

    const lines = audited('password rejected', from);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatchObject({ level: INFO, operation: 'login', reason: 'wrong_password', userId: user.user.id, ip: '127.0.0.1' });
    for (const line of lines.slice(1, 3)) {
      expect(line).toMatchObject({ level: INFO, operation: 'login', reason: 'unknown_email', ip: '127.0.0.1' });
      expect(line).not.toHaveProperty('userId');
    }
    expect(lines[3]).toMatchObject({ operation: 'enrollMfa', reason: 'wrong_password', userId: user.user.id });
    expectNoneLogged(from, [user.email, unknown, wrong, user.accessToken]);
  });

  it("'password rejected' says so when the account is disabled, the right password notwithstanding", async () => {
    const user = await signUp(gw);
    await disableUser(gw.deps, user.email);
    const from = gw.logs.length;
    expect(codeOf(await gw.gql(LoginDocument, { email: user.email, password: user.password }))).toBe('INVALID_CREDENTIALS');
    expect(audited('password rejected', from)).toEqual([expect.objectContaining({ operation: 'login', reason: 'disabled', userId: user.user.id })]);
  });

  it("'mfa code rejected' names the user and the client address, never the code", async () => {
    const user = await signUp(gw);
    const { secret } = await enableMfa(gw, user.accessToken, user.password);
    const { mfaToken } = await challenge(gw, user.email, user.password);
    const from = gw.logs.length;
    const wrong = wrongCode(totpNow(gw, secret));
    expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken, code: wrong }))).toBe('INVALID_MFA_CODE');
    const lines = audited('mfa code rejected', from);
    expect(lines).toEqual([expect.objectContaining({ level: INFO, userId: user.user.id, ip: '127.0.0.1' })]);
    expectNoneLogged(from, [wrong, mfaToken, secret, user.email]);
  });

  it("'mfa code rejected' also for a signed-in session's wrong code (disableMfa, regenerateRecoveryCodes), naming that session", async () => {
    const user = await signUp(gw);
    const { secret } = await enableMfa(gw, user.accessToken, user.password);
    const from = gw.logs.length;
    const wrong = wrongCode(totpNow(gw, secret));
    expect(codeOf(await gw.gql(DisableMfaDocument, { code: wrong }, { token: user.accessToken }))).toBe('INVALID_MFA_CODE');
    expect(codeOf(await gw.gql(RegenerateRecoveryCodesDocument, { code: wrong }, { token: user.accessToken }))).toBe('INVALID_MFA_CODE');
    const sessionId = decodeJwt(user.accessToken).sid;
    expect(audited('mfa code rejected', from)).toEqual([
      expect.objectContaining({ level: INFO, userId: user.user.id, sessionId }),
      expect.objectContaining({ level: INFO, userId: user.user.id, sessionId }),
    ]);
    expectNoneLogged(from, [wrong, secret, user.email, user.accessToken]);
  });

  it("'mfa code rejected' at confirmMfa too (a wrong code at enrolment draws on the same budget), naming the session", async () => {
    const user = await signUp(gw);
    const enrolled = await gw.gql(EnrollMfaDocument, { password: user.password }, { token: user.accessToken });
    const { secret } = enrolled.data!.enrollMfa;
    const from = gw.logs.length;
    const wrong = wrongCode(totpNow(gw, secret));
    expect(codeOf(await gw.gql(ConfirmMfaDocument, { code: wrong }, { token: user.accessToken }))).toBe('INVALID_MFA_CODE');
    expect(audited('mfa code rejected', from)).toEqual([
      expect.objectContaining({ level: INFO, userId: user.user.id, sessionId: decodeJwt(user.accessToken).sid }),
    ]);
    // A right code then is no rejection.
    const after = gw.logs.length;
    expect((await gw.gql(ConfirmMfaDocument, { code: totpNow(gw, secret) }, { token: user.accessToken })).errors).toBeUndefined();
    expect(audited('mfa code rejected', after)).toEqual([]);
    expectNoneLogged(from, [wrong, secret, user.email, user.accessToken]);
  });
});

describe('refresh-token reuse', () => {
  it("'refresh token reused' is a warning naming the user and the session it ended", async () => {
    const user = await signUp(gw);
    const rotated = await gw.gql(RefreshDocument, { refreshToken: user.refreshToken });
    expect(rotated.errors).toBeUndefined();
    gw.clock.advance(gw.config.refresh.reuseGraceSeconds + 1);
    const from = gw.logs.length;
    expect(codeOf(await gw.gql(RefreshDocument, { refreshToken: user.refreshToken }))).toBe('INVALID_TOKEN');
    expect(codeOf(await gw.gql(RefreshDocument, { refreshToken: rotated.data!.refresh.refreshToken }))).toBe('INVALID_TOKEN');
    // A spent token again, in the session already ended.
    expect(codeOf(await gw.gql(RefreshDocument, { refreshToken: user.refreshToken }))).toBe('INVALID_TOKEN');

    const lines = audited('refresh token reused', from);
    expect(lines).toHaveLength(2);
    const session = { level: WARN, userId: user.user.id, sessionId: sid(user.accessToken), ip: '127.0.0.1' };
    expect(lines[0]).toMatchObject({ ...session, sessionRevoked: true });
    expect(lines[1]).toMatchObject({ ...session, sessionRevoked: false });
    expectNoneLogged(from, [user.refreshToken!, rotated.data!.refresh.refreshToken!, rotated.data!.refresh.accessToken]);
  });
});

describe('refresh refused under the grace', () => {
  it("'refresh refused in grace' is an info line naming the user, the session and the address, and the session lives on", async () => {
    const user = await signUp(gw);
    const rotated = await gw.gql(RefreshDocument, { refreshToken: user.refreshToken });
    expect(rotated.errors).toBeUndefined();
    const from = gw.logs.length;
    expect(codeOf(await gw.gql(RefreshDocument, { refreshToken: user.refreshToken }))).toBe('INVALID_TOKEN');
    expect(audited('refresh refused in grace', from)).toEqual([
      expect.objectContaining({ level: INFO, userId: user.user.id, sessionId: sid(user.accessToken), ip: '127.0.0.1' }),
    ]);
    expect(audited('refresh token reused', from)).toEqual([]);
    expect((await gw.gql(RefreshDocument, { refreshToken: rotated.data!.refresh.refreshToken })).errors).toBeUndefined();
    expectNoneLogged(from, [user.refreshToken!, rotated.data!.refresh.refreshToken!]);
  });

  it('not in a session that has ended since: the predecessor is then a spent token of an ended session', async () => {
    const user = await signUp(gw);
    const rotated = await gw.gql(RefreshDocument, { refreshToken: user.refreshToken });
    expect(rotated.errors).toBeUndefined();
    expect((await gw.gql(LogoutDocument, { refreshToken: rotated.data!.refresh.refreshToken })).data?.logout).toBe(true);
    const from = gw.logs.length;
    expect(codeOf(await gw.gql(RefreshDocument, { refreshToken: user.refreshToken }))).toBe('INVALID_TOKEN');
    expect(audited('refresh refused in grace', from)).toEqual([]);
    expect(audited('refresh token reused', from)).toEqual([
      expect.objectContaining({ userId: user.user.id, sessionId: sid(user.accessToken), sessionRevoked: false }),
    ]);
  });
});

describe('account changes', () => {
  it("'password changed' and 'logged out everywhere' name the user, the session and what ended", async () => {
    const user = await signUp(gw);
    const other = await gw.gql(LoginDocument, { email: user.email, password: user.password });
    expect(other.errors).toBeUndefined();
    const newPassword = 'Another-Secret-77?';
    const from = gw.logs.length;
    const auth = { token: user.accessToken };
    expect((await gw.gql(ChangePasswordDocument, { currentPassword: user.password, newPassword }, auth)).data?.changePassword).toBe(true);
    const [changed] = audited('password changed', from);
    expect(changed).toMatchObject({ level: INFO, userId: user.user.id, sessionId: sid(user.accessToken), endedSessions: 1, ip: '127.0.0.1' });

    expect((await gw.gql(LogoutAllDocument, {}, auth)).data?.logoutAll).toBe(true);
    const [all] = audited('logged out everywhere', from);
    expect(all).toMatchObject({ level: INFO, userId: user.user.id, sessionId: sid(user.accessToken), endedSessions: 1 });
    expectNoneLogged(from, [user.password, newPassword, user.accessToken, user.refreshToken!, user.email]);
  });

  it("'user registered' names the new account and the address, once: registering a taken email logs nothing", async () => {
    const email = uniqueEmail();
    const password = 'Registered-Secret-55!';
    const from = gw.logs.length;
    expect((await gw.gql(RegisterDocument, { email, password })).data?.register).toBe(true);
    expect((await gw.gql(RegisterDocument, { email, password: `${password}x` })).data?.register).toBe(true);
    const lines = audited('user registered', from);
    expect(lines).toHaveLength(1);
    const login = await gw.gql(LoginDocument, { email, password });
    const userId = login.data?.login.__typename === 'AuthPayload' ? login.data.login.user.id : undefined;
    expect(lines[0]).toMatchObject({ level: INFO, userId, ip: '127.0.0.1' });
    expect(userId).toEqual(expect.any(String));
    expectNoneLogged(from, [email, password, `${password}x`]);
  });

  it("'logged out' and 'session revoked' name the user and the session ended, only when one was", async () => {
    const user = await signUp(gw);
    const second = await gw.gql(LoginDocument, { email: user.email, password: user.password });
    const secondToken = second.data?.login.__typename === 'AuthPayload' ? second.data.login.accessToken : '';
    const from = gw.logs.length;
    const auth = { token: user.accessToken };
    expect((await gw.gql(RevokeSessionDocument, { id: sid(secondToken) }, auth)).data?.revokeSession).toBe(true);
    expect((await gw.gql(RevokeSessionDocument, { id: sid(secondToken) }, auth)).data?.revokeSession).toBe(false);
    expect(audited('session revoked', from)).toEqual([
      expect.objectContaining({ level: INFO, userId: user.user.id, sessionId: sid(secondToken), fromSessionId: sid(user.accessToken) }),
    ]);

    expect((await gw.gql(LogoutDocument, { refreshToken: user.refreshToken })).data?.logout).toBe(true);
    expect((await gw.gql(LogoutDocument, { refreshToken: user.refreshToken })).data?.logout).toBe(true);
    expect((await gw.gql(LogoutDocument, { refreshToken: 'not-a-token' })).data?.logout).toBe(true);
    expect(audited('logged out', from)).toEqual([
      expect.objectContaining({ level: INFO, userId: user.user.id, sessionId: sid(user.accessToken), ip: '127.0.0.1' }),
    ]);
    expectNoneLogged(from, [user.password, user.accessToken, user.refreshToken!, user.email, secondToken]);
  });

  it("'roles changed' says which admin gave whom which roles", async () => {
    const admin = await signUp(gw);
    await grantRole(gw.deps, admin.email, 'admin');
    const adminToken = (await gw.gql(RefreshDocument, { refreshToken: admin.refreshToken })).data!.refresh.accessToken;
    const target = await signUp(gw);
    const from = gw.logs.length;
    // In uppercase, as some clients print UUIDs: the line names the user as every other line does.
    const set = await gw.gql(SetUserRolesDocument, { userId: target.user.id.toUpperCase(), roles: ['editor', 'user'] }, { token: adminToken });
    expect(set.errors).toBeUndefined();
    expect(audited('roles changed', from)).toEqual([
      expect.objectContaining({ level: INFO, by: admin.user.id, userId: target.user.id, before: ['user'], roles: ['editor', 'user'], endedSessions: 0 }),
    ]);
    expectNoneLogged(from, [adminToken, target.email]);
  });
});

describe('whatever LOG_LEVEL says', () => {
  it.each(['warn', 'error', 'silent', 'info', 'debug'])('writes the audit lines at LOG_LEVEL=%s, and the other lines as it says', (level) => {
    const lines: string[] = [];
    const logger = createLogger(level, new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }));
    auditLog(logger)('password rejected', { userId: 'u1', reason: 'wrong_password' });
    auditLog(logger)('refresh token reused', { userId: 'u1' });
    logger.info('an ordinary line');
    const written = lines.map((line) => JSON.parse(line) as Line);
    expect(written.filter((l) => l.audit === true).map((l) => [l.msg, l.level])).toEqual([
      ['password rejected', INFO],
      ['refresh token reused', WARN],
    ]);
    expect(written.some((l) => l.msg === 'an ordinary line')).toBe(['info', 'debug'].includes(level));
  });
});

describe('a client that hangs up', () => {
  // The request waits on a row lock until after the server has seen the connection close: only
  // then does logout read the address, for its audit line.
  it.runIf(process.env.DATABASE_URL)('is still named by its address once its connection has closed (PostgreSQL)', async () => {
    const user = await signUp(gw);
    const from = gw.logs.length;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = gw.database.db.transaction(async (tx) => {
      await tx.execute(sql`select 1 from sessions where id = ${sid(user.accessToken)}::uuid for update`);
      locked();
      await released;
    });
    await isLocked;
    const closed = sendAndHangUp(print(LogoutDocument), { refreshToken: user.refreshToken });
    await closed;
    await new Promise((resolve) => setTimeout(resolve, 300)); // the server reads the close meanwhile
    release();
    await holder;
    await expect.poll(() => audited('logged out', from), { timeout: 10_000 }).toEqual([expect.objectContaining({ sessionId: sid(user.accessToken), ip: '127.0.0.1' })]);
  });
});
