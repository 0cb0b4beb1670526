// Rule: REFRESH_TOKEN_TRANSPORT decides where the refresh token travels (a browser may narrow `both` to the cookie with X-Refresh-Transport: cookie, never widen it, and a refresh through the cookie answers in the cookie only, whatever the request asks); the `__Host-refresh` cookie is HttpOnly, Secure, SameSite=Strict, Path=/, read when the argument is omitted, and cleared, with those same attributes, on logout (which ends the cookie's session too), logoutAll and a refresh that finds it dead (not one refused by the grace).
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { LogoutAllDocument, LogoutDocument, RefreshDocument, RegisterDocument, VerifyMfaDocument } from '../gql/graphql';
import { codeOf, PASSWORD, uniqueEmail } from '../helpers/fixtures';
import { freezeForTest } from '../helpers/test-clock';
import { createTestDatabase, startGateway, type RequestOptions, type TestDatabase, type TestGateway } from '../helpers/gateway';
import { challenge, enableMfa, totpNow } from '../helpers/mfa';
import { logIn, refreshCode, rotate } from '../helpers/sessions';

const NAME = '__Host-refresh';

/** The refresh cookie a response sets, split into its value and lower-cased attributes. */
function refreshCookieOf(headers: Headers) {
  const line = headers.getSetCookie().find((c) => c.startsWith(`${NAME}=`));
  if (!line) return undefined;
  const [pair, ...rest] = line.split(';').map((s) => s.trim());
  const attributes = new Map(
    rest.map((a) => {
      const eq = a.indexOf('=');
      return eq < 0 ? [a.toLowerCase(), ''] : [a.slice(0, eq).toLowerCase(), a.slice(eq + 1)];
    }),
  );
  return { value: decodeURIComponent(pair!.slice(NAME.length + 1)), attributes };
}

const asCookie = (token: string) => `${NAME}=${token}`;

/**
 * The attributes the cookie is set with: HttpOnly, Secure, SameSite=Strict, Path=/, no Domain. A
 * Set-Cookie that clears it must carry them too: a browser refuses a `__Host-` cookie without
 * Secure and Path=/, and takes one of another path or domain for another cookie, keeping the live one.
 */
function expectHardened(cookie: NonNullable<ReturnType<typeof refreshCookieOf>>) {
  expect(cookie.attributes.has('httponly'), 'HttpOnly').toBe(true);
  expect(cookie.attributes.has('secure'), 'Secure').toBe(true);
  expect(cookie.attributes.get('samesite')?.toLowerCase(), 'SameSite').toBe('strict');
  expect(cookie.attributes.get('path'), 'Path').toBe('/');
  expect(cookie.attributes.has('domain'), 'Domain').toBe(false);
}

/** Expects a response's Set-Cookie to clear the refresh cookie: empty, expired, with the attributes it was set with. */
function expectCleared(headers: Headers) {
  const cleared = refreshCookieOf(headers);
  expect(cleared, `a Set-Cookie for ${NAME}`).toBeDefined();
  expect(cleared!.value).toBe('');
  const maxAge = cleared!.attributes.get('max-age');
  const expires = cleared!.attributes.get('expires');
  expect(maxAge === '0' || (expires !== undefined && Date.parse(expires) < Date.now()), 'Max-Age=0 or an Expires in the past').toBe(true);
  expectHardened(cleared!);
}

/** Registers a fresh user and logs in, keeping the response headers. */
async function newLogin(gw: TestGateway, options?: RequestOptions) {
  const email = uniqueEmail('cookie');
  await gw.gql(RegisterDocument, { email, password: PASSWORD });
  return logIn(gw, email, PASSWORD, options);
}

const cookieOnly = { 'x-refresh-transport': 'cookie' };

// One database, three gateways that differ only in transport (the signing keys are shared).
let shared: TestDatabase;
const encryptionKeys = generateEncryptionKeyEntry('test');
const gateways: Partial<Record<'both' | 'cookie' | 'body', TestGateway>> = {};
beforeAll(async () => {
  shared = await createTestDatabase();
  for (const transport of ['both', 'cookie', 'body'] as const) {
    gateways[transport] = await startGateway({
      database: shared.database,
      encryptionKeys,
      // `both` is left unset: it must be the default.
      env: transport === 'both' ? {} : { REFRESH_TOKEN_TRANSPORT: transport },
    });
  }
});
afterAll(async () => {
  for (const gw of Object.values(gateways)) await gw.close();
  await shared.drop();
});

describe('transport both (default)', () => {
  it('login sets the hardened cookie and also returns the token in the body', async () => {
    expect(gateways.both!.config.refresh.transport).toBe('both');
    const login = await newLogin(gateways.both!);
    const cookie = refreshCookieOf(login.headers)!;
    expect(cookie).toBeDefined();
    expect(cookie.value).toBe(login.refreshToken);
    expectHardened(cookie);
    const expires = Date.parse(cookie.attributes.get('expires')!);
    expect(Math.floor(expires / 1000)).toBe(Math.floor(new Date(login.refreshTokenExpiresAt).getTime() / 1000));
  });

  it("gives the cookie a Max-Age to the same end, by the gateway's clock (a browser whose clock runs ahead keeps it)", async () => {
    const gw = gateways.both!;
    freezeForTest(gw.clock);
    gw.clock.advance(-3600); // the gateway's clock an hour behind this machine's: Max-Age follows the gateway's
    onTestFinished(() => gw.clock.advance(3600));
    const login = await newLogin(gw);
    const cookie = refreshCookieOf(login.headers)!;
    const end = new Date(login.refreshTokenExpiresAt).getTime();
    expect(cookie.attributes.get('max-age')).toBe(String(Math.floor((end - gw.clock.now().getTime()) / 1000)));
    expect(Number(cookie.attributes.get('max-age'))).toBeGreaterThan(gw.config.refresh.idleTtl - 2);
  });

  it('refresh without an argument reads the cookie, rotates it and sets the successor in the cookie only', async () => {
    const gw = gateways.both!;
    const login = await newLogin(gw);
    // Without X-Refresh-Transport: page script that can send the cookie (an XSS) is not handed
    // the successor to read and take away.
    const next = await rotate(gw, undefined, { cookie: asCookie(login.refreshToken!) });
    expect(next.refreshToken).toBeNull();
    const successor = refreshCookieOf(next.headers)!.value;
    expect(successor).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(successor).not.toBe(login.refreshToken);
    expect(await refreshCode(gw, login.refreshToken)).toBe('INVALID_TOKEN'); // the cookie's token was spent
    // Neither argument nor cookie: the code of every refused refresh, saying what is missing.
    const none = await gw.gql(RefreshDocument, {});
    expect(none.errors?.map((e) => [e.extensions.code, e.message])).toEqual([['INVALID_TOKEN', 'No refresh token given.']]);
    expect(refreshCookieOf(none.headers)).toBeUndefined();
    // A dead one is no missing one.
    expect((await gw.gql(RefreshDocument, { refreshToken: login.refreshToken })).errors?.[0]?.message).toBe('Invalid or expired token.');
    // Nor when the request asks for the body, or gives an empty argument (the cookie is read then).
    let cookie = successor;
    for (const [argument, headers] of [[undefined, { 'x-refresh-transport': 'body' }], ['', {}], [null, {}]] as const) {
      const through = await rotate(gw, argument, { cookie: asCookie(cookie), headers });
      expect(through.refreshToken, JSON.stringify([argument, headers])).toBeNull();
      cookie = refreshCookieOf(through.headers)!.value;
      expect(cookie).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
    // A token given as the argument is the client's to hold: its successor comes back in the body too.
    const byArgument = await rotate(gw, cookie, { cookie: asCookie(cookie) });
    expect(byArgument.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(refreshCookieOf(byArgument.headers)?.value).toBe(byArgument.refreshToken);
  });

  it('logout with only the cookie ends the session and clears the cookie, with the attributes it was set with', async () => {
    const gw = gateways.both!;
    const login = await newLogin(gw);
    const out = await gw.gql(LogoutDocument, {}, { cookie: asCookie(login.refreshToken!) });
    expect(out.data?.logout).toBe(true);
    expectCleared(out.headers);
    expect(await refreshCode(gw, login.refreshToken)).toBe('INVALID_TOKEN');
  });

  it('logout with an argument and a cookie of another session ends both: the cookie it clears held the only copy', async () => {
    const gw = gateways.both!;
    const inCookie = await newLogin(gw);
    const inArgument = await newLogin(gw);
    const from = gw.logs.length;
    const out = await gw.gql(LogoutDocument, { refreshToken: inArgument.refreshToken }, { cookie: asCookie(inCookie.refreshToken!) });
    expect(out.data?.logout).toBe(true);
    expectCleared(out.headers);
    // One audit line per session ended.
    const ended = gw.logs.slice(from).map((line) => JSON.parse(line) as { msg: string; sessionId?: string }).filter((line) => line.msg === 'logged out');
    expect(ended.map((line) => line.sessionId).sort()).toEqual([decodeJwt(inArgument.accessToken).sid, decodeJwt(inCookie.accessToken).sid].sort());
    expect(await refreshCode(gw, inArgument.refreshToken)).toBe('INVALID_TOKEN');
    expect(await refreshCode(gw, inCookie.refreshToken)).toBe('INVALID_TOKEN');
  });
});

describe('transport both: a cookie that holds nothing worth keeping is cleared', () => {
  it('by logoutAll, which ends the caller\'s session too', async () => {
    const gw = gateways.both!;
    const login = await newLogin(gw);
    const out = await gw.gql(LogoutAllDocument, {}, { token: login.accessToken, cookie: asCookie(login.refreshToken!) });
    expect(out.data?.logoutAll).toBe(true);
    expectCleared(out.headers);
  });

  it('by a cookie refresh that answers INVALID_TOKEN, but not one the grace refused: that browser may hold the successor', async () => {
    const gw = gateways.both!;
    const login = await newLogin(gw);
    await rotate(gw, login.refreshToken); // another tab won the race
    const superseded = await gw.gql(RefreshDocument, {}, { cookie: asCookie(login.refreshToken!) });
    expect(codeOf(superseded)).toBe('INVALID_TOKEN');
    expect(refreshCookieOf(superseded.headers)).toBeUndefined();

    // Not by a refresh whose argument is dead: the cookie it came with holds another token.
    const live = await newLogin(gw);
    const byArgument = await gw.gql(RefreshDocument, { refreshToken: 'B'.repeat(43) }, { cookie: asCookie(live.refreshToken!) });
    expect(codeOf(byArgument)).toBe('INVALID_TOKEN');
    expect(refreshCookieOf(byArgument.headers)).toBeUndefined();
    expect(await refreshCode(gw, undefined, { cookie: asCookie(live.refreshToken!) })).toBeUndefined();

    const unknown = await gw.gql(RefreshDocument, {}, { cookie: asCookie('A'.repeat(43)) });
    expect(codeOf(unknown)).toBe('INVALID_TOKEN');
    expectCleared(unknown.headers);

    gw.clock.advance(11); // past REFRESH_REUSE_GRACE_SECONDS: a reuse, which ends the session
    const reused = await gw.gql(RefreshDocument, {}, { cookie: asCookie(login.refreshToken!) });
    gw.clock.advance(-11);
    expect(codeOf(reused)).toBe('INVALID_TOKEN');
    expectCleared(reused.headers);

    // Within the grace, but the session has ended since (a logout in the tab that won): the
    // browser's cookie holds nothing worth keeping.
    const ended = await newLogin(gw);
    const winner = await rotate(gw, ended.refreshToken);
    expect((await gw.gql(LogoutDocument, { refreshToken: winner.refreshToken })).data?.logout).toBe(true);
    const afterEnd = await gw.gql(RefreshDocument, {}, { cookie: asCookie(ended.refreshToken!) });
    expect(codeOf(afterEnd)).toBe('INVALID_TOKEN');
    expectCleared(afterEnd.headers);
  });
});

describe('transport both: a cookie refused within the grace', () => {
  it('is cleared when its session has expired since: no tab can hold a successor that works', async () => {
    const short = await startGateway({ database: shared.database, encryptionKeys, env: { REFRESH_TOKEN_MAX_TTL: '60' } });
    try {
      const login = await newLogin(short);
      short.clock.advance(55);
      await rotate(short, login.refreshToken); // the session still ends 60 s after the login
      short.clock.advance(6); // ended; the token was spent 6 s ago, within REFRESH_REUSE_GRACE_SECONDS
      const late = await short.gql(RefreshDocument, {}, { cookie: asCookie(login.refreshToken!) });
      expect(codeOf(late)).toBe('INVALID_TOKEN');
      expectCleared(late.headers);
    } finally {
      await short.close();
    }
  });
});

describe('transport cookie', () => {
  it('keeps the token out of the body and in the cookie, at login and at refresh', async () => {
    const gw = gateways.cookie!;
    const login = await newLogin(gw);
    expect(login.refreshToken).toBeNull();
    const cookie = refreshCookieOf(login.headers)!;
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const next = await rotate(gw, undefined, { cookie: asCookie(cookie.value) });
    expect(next.refreshToken).toBeNull();
    expect(refreshCookieOf(next.headers)?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('transport cookie: logout', () => {
  it('ends the session of the cookie and clears it', async () => {
    const gw = gateways.cookie!;
    const cookie = refreshCookieOf((await newLogin(gw)).headers)!.value;
    const out = await gw.gql(LogoutDocument, {}, { cookie: asCookie(cookie) });
    expect(out.data?.logout).toBe(true);
    expectCleared(out.headers);
    expect(await refreshCode(gw, undefined, { cookie: asCookie(cookie) })).toBe('INVALID_TOKEN');
  });
});

describe('transport body', () => {
  it('sets no cookie and ignores one: a cookie-only refresh is INVALID_TOKEN', async () => {
    const gw = gateways.body!;
    const login = await newLogin(gw);
    expect(login.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(login.headers.get('set-cookie')).toBeNull();
    const cookieOnly = await gw.gql(RefreshDocument, {}, { cookie: asCookie(login.refreshToken!) });
    expect(cookieOnly.errors?.map((e) => [e.extensions.code, e.message])).toEqual([['INVALID_TOKEN', 'No refresh token given.']]);
    // The token itself was fine: only its transport was refused.
    const next = await rotate(gw, login.refreshToken);
    expect(next.headers.get('set-cookie')).toBeNull();
    const out = await gw.gql(LogoutDocument, { refreshToken: next.refreshToken });
    expect(out.data?.logout).toBe(true);
    expect(out.headers.get('set-cookie')).toBeNull();
  });

  it('clears a cookie left from before the transport became body, at logout and logoutAll, and the session it holds lives on', async () => {
    const gw = gateways.body!;
    const stale = await newLogin(gateways.both!);
    const login = await newLogin(gw);
    const out = await gw.gql(LogoutDocument, { refreshToken: login.refreshToken }, { cookie: asCookie(stale.refreshToken!) });
    expect(out.data?.logout).toBe(true);
    expectCleared(out.headers);
    const other = await newLogin(gw);
    const all = await gw.gql(LogoutAllDocument, {}, { token: other.accessToken, cookie: asCookie(stale.refreshToken!) });
    expect(all.data?.logoutAll).toBe(true);
    expectCleared(all.headers);
    // Never read under body, so never ended by these.
    expect((await rotate(gateways.both!, stale.refreshToken)).refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('X-Refresh-Transport: cookie (what the playground sends)', () => {
  it('with transport both: the body carries no refresh token, only the cookie does, at login and at refresh', async () => {
    const gw = gateways.both!;
    const login = await newLogin(gw, { headers: cookieOnly });
    expect(login.refreshToken).toBeNull();
    const cookie = refreshCookieOf(login.headers)!;
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(cookie.attributes.has('httponly')).toBe(true);
    const next = await rotate(gw, undefined, { cookie: asCookie(cookie.value), headers: { 'X-Refresh-Transport': 'Cookie' } });
    expect(next.refreshToken).toBeNull();
    expect(refreshCookieOf(next.headers)?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Its value in any case, with spaces around it: the same.
    const spelt = await newLogin(gw, { headers: { 'x-refresh-transport': ' Cookie ' } });
    expect(spelt.refreshToken).toBeNull();
    expect(refreshCookieOf(spelt.headers)?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('is ignored when absent or any other value: the body keeps the token', async () => {
    const gw = gateways.both!;
    const variants: Array<Record<string, string>> = [{}, { 'x-refresh-transport': 'body' }, { 'x-refresh-transport': 'cookie, body' }];
    for (const headers of variants) {
      const login = await newLogin(gw, { headers });
      expect(login.refreshToken, JSON.stringify(headers)).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(refreshCookieOf(login.headers)?.value).toBe(login.refreshToken);
    }
  });

  it('with transport both: logout through the cookie ends the session and clears the cookie', async () => {
    const gw = gateways.both!;
    const login = await newLogin(gw, { headers: cookieOnly });
    const cookie = refreshCookieOf(login.headers)!.value;
    const out = await gw.gql(LogoutDocument, {}, { cookie: asCookie(cookie), headers: cookieOnly });
    expect(out.data?.logout).toBe(true);
    expectCleared(out.headers);
    expect(await refreshCode(gw, cookie)).toBe('INVALID_TOKEN');
  });

  it('never turns the cookie on where the operator chose body', async () => {
    const login = await newLogin(gateways.body!, { headers: cookieOnly });
    expect(login.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(login.headers.get('set-cookie')).toBeNull();
  });
});

describe('verifyMfa', () => {
  /** A user with MFA on `gw`, signing in with their code: the answer and its headers. */
  async function signInWithMfa(gw: TestGateway, options?: RequestOptions) {
    const email = uniqueEmail('cookie-mfa');
    await gw.gql(RegisterDocument, { email, password: PASSWORD });
    const { accessToken } = await logIn(gw, email, PASSWORD);
    const { secret } = await enableMfa(gw, accessToken, PASSWORD);
    gw.clock.advance(30); // the confirming code's step is spent
    const { mfaToken } = await challenge(gw, email, PASSWORD);
    const verified = await gw.gql(VerifyMfaDocument, { mfaToken, code: totpNow(gw, secret) }, options);
    expect(verified.errors).toBeUndefined();
    return { refreshToken: verified.data!.verifyMfa.refreshToken, cookie: refreshCookieOf(verified.headers) };
  }

  it('delivers the refresh token as login does: cookie only, cookie only when asked, body only', async () => {
    const cookie = await signInWithMfa(gateways.cookie!);
    expect(cookie.refreshToken).toBeNull();
    expect(cookie.cookie?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expectHardened(cookie.cookie!);

    const asked = await signInWithMfa(gateways.both!, { headers: cookieOnly });
    expect(asked.refreshToken).toBeNull();
    expect(asked.cookie?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const both = await signInWithMfa(gateways.both!);
    expect(both.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(both.cookie?.value).toBe(both.refreshToken);

    const body = await signInWithMfa(gateways.body!);
    expect(body.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(body.cookie).toBeUndefined();
  });
});
