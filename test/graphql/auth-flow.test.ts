// Rule: register → login → me → refresh → logout works end to end over HTTP, and a logged-out
// session's refresh token is dead.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginDocument, LogoutDocument, MeDocument, RefreshDocument, RegisterDocument } from '../gql/graphql';
import { codeOf, PASSWORD, uniqueEmail } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway();
});
afterAll(() => gw.close());

describe('the whole flow', () => {
  it('registers, logs in, reads me, refreshes and logs out', async () => {
    const email = uniqueEmail();
    const reg = await gw.gql(RegisterDocument, { email: `  ${email.toUpperCase()} `, password: PASSWORD });
    expect(reg.data?.register).toBe(true);

    const login = await gw.gql(LoginDocument, { email, password: PASSWORD });
    expect(login.status).toBe(200);
    const payload = login.data!.login;
    if (payload.__typename !== 'AuthPayload') throw new Error('expected AuthPayload');
    expect(payload.tokenType).toBe('Bearer');
    expect(payload.expiresIn).toBe(900);
    expect(payload.user).toMatchObject({ email, roles: ['user'], mfaEnabled: false });
    expect(payload.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Date(payload.refreshTokenExpiresAt).getTime()).toBeGreaterThan(Date.now() + 13 * 86_400_000);

    const me = await gw.gql(MeDocument, {}, { token: payload.accessToken });
    expect(me.data?.me).toMatchObject({ id: payload.user.id, email, roles: ['user'] });

    const refreshed = await gw.gql(RefreshDocument, { refreshToken: payload.refreshToken });
    expect(refreshed.errors).toBeUndefined();
    const next = refreshed.data!.refresh;
    expect(next.refreshToken).not.toBe(payload.refreshToken);
    expect((await gw.gql(MeDocument, {}, { token: next.accessToken })).data?.me.id).toBe(payload.user.id);

    const out = await gw.gql(LogoutDocument, { refreshToken: next.refreshToken });
    expect(out.data?.logout).toBe(true);
    const after = await gw.gql(RefreshDocument, { refreshToken: next.refreshToken });
    expect(codeOf(after)).toBe('INVALID_TOKEN');
  });

  it('compares emails case-insensitively and keeps them unique', async () => {
    const email = uniqueEmail('Case');
    await gw.gql(RegisterDocument, { email, password: PASSWORD });
    await gw.gql(RegisterDocument, { email: email.toUpperCase(), password: 'Another-Pass-99!' });
    const login = await gw.gql(LoginDocument, { email: email.toUpperCase(), password: PASSWORD });
    expect(login.data?.login.__typename).toBe('AuthPayload');
    const other = await gw.gql(LoginDocument, { email, password: 'Another-Pass-99!' });
    expect(codeOf(other)).toBe('INVALID_CREDENTIALS');
  });

  it('answers a malformed email with BAD_USER_INPUT on register', async () => {
    const result = await gw.gql(RegisterDocument, { email: 'not-an-email', password: PASSWORD });
    expect(codeOf(result)).toBe('BAD_USER_INPUT');
  });

  it('takes an email with a control character (a NUL, which PostgreSQL cannot store) as malformed, not as an internal error', async () => {
    for (const email of ['a\u0000b@example.com', 'a@exam\u0007ple.com', 'a\ud800@example.com']) {
      expect(codeOf(await gw.gql(RegisterDocument, { email, password: PASSWORD }))).toBe('BAD_USER_INPUT');
      expect(codeOf(await gw.gql(LoginDocument, { email, password: PASSWORD }))).toBe('INVALID_CREDENTIALS');
    }
    expect(gw.logs.join('')).not.toContain('unexpected error');
  });
});
