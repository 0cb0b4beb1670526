// Rule: only the gateway's own unexpired ES256 at+jwt for this issuer and audience authenticates; any other bearer token makes the request anonymous (guarded fields UNAUTHENTICATED, unguarded ones work, HTTP 200).
import { decodeJwt, decodeProtectedHeader, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginDocument, MeDocument, RefreshDocument } from '../gql/graphql';
import { codeOf, PASSWORD, signUp } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { freezeForTest } from '../helpers/test-clock';
import { fetchJwks, tamper, unsecured } from '../helpers/jwt-forgery';

let gw: TestGateway;
let user: Awaited<ReturnType<typeof signUp>>;
beforeAll(async () => {
  gw = await startGateway();
  user = await signUp(gw);
});
afterAll(() => gw.close());

async function expectAnonymous(authorization: string) {
  const me = await gw.gql(MeDocument, {}, { headers: { authorization } });
  expect(me.status).toBe(200);
  expect(codeOf(me)).toBe('UNAUTHENTICATED');
  expect(me.data).toBeNull();
}

async function expectAccepted(token: string) {
  const me = await gw.gql(MeDocument, {}, { token });
  expect(me.errors).toBeUndefined();
  expect(me.data?.me.id).toBe(user.user.id);
}

/** Signs the real token's claims (with changes) under the gateway's own private key. */
async function resignWithGatewayKey(
  token: string,
  change: { payload?: JWTPayload; header?: Record<string, unknown> } = {},
) {
  const { kid, alg } = gw.deps.keys.signingKey(gw.clock.now());
  return new SignJWT({ ...decodeJwt(token), ...change.payload })
    .setProtectedHeader({ alg, kid, typ: 'at+jwt', ...change.header })
    .sign(gw.deps.keys.signingKey(gw.clock.now()).privateKey);
}

describe('forged and altered tokens', () => {
  it('accepts the real token, and the same claims re-signed by the gateway key (the control)', async () => {
    await expectAccepted(user.accessToken);
    await expectAccepted(await resignWithGatewayKey(user.accessToken));
  });

  it('reads the scheme in any case, as HTTP does (bearer, BEARER), and one space or more before the token (RFC 6750)', async () => {
    for (const scheme of ['bearer', 'BEARER', 'Bearer  ']) {
      const me = await gw.gql(MeDocument, {}, { headers: { authorization: `${scheme} ${user.accessToken}` } });
      expect(me.errors, scheme).toBeUndefined();
      expect(me.data?.me.id).toBe(user.user.id);
    }
  });

  it('refuses an unsecured (alg none) token carrying the real claims', async () => {
    await expectAnonymous(`Bearer ${unsecured(user.accessToken)}`);
    const viaJose = new UnsecuredJWT(decodeJwt(user.accessToken)).encode();
    await expectAnonymous(`Bearer ${viaJose}`);
  });

  it('refuses a stripped signature', async () => {
    const [header, payload] = user.accessToken.split('.');
    await expectAnonymous(`Bearer ${header}.${payload}.`);
    await expectAnonymous(`Bearer ${header}.${payload}`);
  });

  it('refuses other spellings of the real token: signature padded, or its last character\'s unused bits set', async () => {
    const [header, payload, signature] = user.accessToken.split('.') as [string, string, string];
    // 64 signature bytes are 86 characters; the last one carries 2 bits and 4 unused ones.
    expect(signature).toHaveLength(86);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(signature.at(-1)!);
    const otherLast = alphabet[last ^ 0b0001]!;
    const sameBytes = signature.slice(0, -1) + otherLast;
    expect(Buffer.from(sameBytes, 'base64url')).toEqual(Buffer.from(signature, 'base64url'));
    const cached = gw.deps.verifiedTokens.size;
    for (const spelling of [`${signature}=`, `${signature}==`, sameBytes]) await expectAnonymous(`Bearer ${header}.${payload}.${spelling}`);
    expect(gw.deps.verifiedTokens.size).toBe(cached);
    await expectAccepted(user.accessToken);
  });

  it('refuses a payload flipped to claim admin under the original signature', async () => {
    const flipped = tamper(user.accessToken, { payload: { roles: ['admin'], scope: 'admin' } });
    expect(decodeJwt(flipped).roles).toEqual(['admin']);
    await expectAnonymous(`Bearer ${flipped}`);
  });

  it('refuses HS256 tokens keyed with the public key (algorithm confusion)', async () => {
    const jwks = await fetchJwks(gw);
    const jwk = jwks.keys.find((k) => k.kid === gw.deps.keys.signingKey(gw.clock.now()).kid)!;
    const { x, y } = jwk as { x: string; y: string };
    const rawPoint = Buffer.concat([Buffer.from([4]), Buffer.from(x, 'base64url'), Buffer.from(y, 'base64url')]);
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    const secrets = [
      new TextEncoder().encode(JSON.stringify(jwk)),
      new Uint8Array(rawPoint),
      new TextEncoder().encode(await exportSPKI(publicKey)),
    ];
    for (const secret of secrets) {
      const forged = await new SignJWT(decodeJwt(user.accessToken))
        .setProtectedHeader({ alg: 'HS256', kid: jwk.kid, typ: 'at+jwt' })
        .sign(secret);
      await expectAnonymous(`Bearer ${forged}`);
    }
  });

  it('refuses a token signed by another ES256 key, under an unknown kid, the real kid or none', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    for (const kid of ['attacker-key', gw.deps.keys.signingKey(gw.clock.now()).kid, undefined]) {
      const forged = await new SignJWT(decodeJwt(user.accessToken))
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', ...(kid && { kid }) })
        .sign(privateKey);
      await expectAnonymous(`Bearer ${forged}`);
    }
  });

  it('refuses a gateway-signed token for another audience, issuer or token type', async () => {
    await expectAnonymous(`Bearer ${await resignWithGatewayKey(user.accessToken, { payload: { aud: 'billing' } })}`);
    await expectAnonymous(`Bearer ${await resignWithGatewayKey(user.accessToken, { payload: { iss: 'https://evil.test' } })}`);
    for (const typ of ['JWT', 'id_token+jwt']) {
      await expectAnonymous(`Bearer ${await resignWithGatewayKey(user.accessToken, { header: { typ } })}`);
    }
    await expectAnonymous(`Bearer ${await resignWithGatewayKey(user.accessToken, { payload: { sid: undefined } })}`);
    // Without a jti, or with an amr that is no list of strings.
    await expectAnonymous(`Bearer ${await resignWithGatewayKey(user.accessToken, { payload: { jti: undefined } })}`);
    await expectAnonymous(`Bearer ${await resignWithGatewayKey(user.accessToken, { payload: { amr: [1] } })}`);
  });

  it('refuses garbage, empty and non-Bearer authorization headers', async () => {
    const headers = ['Bearer garbage', 'Bearer a.b.c', 'Bearer', 'Bearer ', 'Bearer ....'];
    const wrapped = [`Basic ${user.accessToken}`, user.accessToken, `Bearer\t${user.accessToken}`, `XBearer ${user.accessToken}`, `Basic x Bearer ${user.accessToken}`, `Bearer ${user.accessToken} x`];
    for (const header of [...headers, ...wrapped]) await expectAnonymous(header);
  });

  it('keeps unguarded login and refresh working with a bad Authorization header', async () => {
    const bad = { authorization: `Bearer ${tamper(user.accessToken, { payload: { roles: ['admin'] } })}` };
    const login = await gw.gql(LoginDocument, { email: user.email, password: PASSWORD }, { headers: bad });
    expect(login.status).toBe(200);
    expect(login.errors).toBeUndefined();
    if (login.data?.login.__typename !== 'AuthPayload') throw new Error('expected AuthPayload');
    const refreshed = await gw.gql(
      RefreshDocument,
      { refreshToken: login.data.login.refreshToken },
      { headers: { authorization: 'Bearer garbage' } },
    );
    expect(refreshed.status).toBe(200);
    expect(refreshed.errors).toBeUndefined();
    expect(refreshed.data?.refresh.accessToken).toBeTruthy();
  });
});

describe('the real access token', () => {
  it('has the documented header and claims, keyed by a published kid', async () => {
    const header = decodeProtectedHeader(user.accessToken);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    const jwks = await fetchJwks(gw);
    expect(jwks.keys.map((k) => k.kid)).toContain(header.kid);

    const claims = decodeJwt(user.accessToken);
    expect(claims).toMatchObject({
      iss: gw.config.jwt.issuer,
      aud: gw.config.jwt.audience,
      sub: user.user.id,
      roles: ['user'],
      scope: 'user',
      amr: ['pwd'],
    });
    expect(claims.sid).toMatch(/^[0-9a-f-]{36}$/);
    expect(claims.jti).toEqual(expect.any(String));
    expect(claims.exp! - claims.iat!).toBe(gw.config.jwt.accessTokenTtl);
    expect(user.expiresIn).toBe(gw.config.jwt.accessTokenTtl);
  });

  it('keeps sid and amr across a refresh, with a new jti', async () => {
    const first = decodeJwt(user.accessToken);
    const refreshed = await gw.gql(RefreshDocument, { refreshToken: user.refreshToken });
    expect(refreshed.errors).toBeUndefined();
    const next = decodeJwt(refreshed.data!.refresh.accessToken);
    expect(next).toMatchObject({ sub: first.sub, sid: first.sid, amr: ['pwd'], roles: ['user'] });
    expect(next.jti).not.toBe(first.jti);
    user = { ...user, refreshToken: refreshed.data!.refresh.refreshToken };
  });
});

// Moves this gateway's clock: keep last in the file.
describe('expiry', () => {
  it('accepts a token up to 60 s past exp (clock skew) and refuses it from then on', async () => {
    // Stopped, so that the boundary is the token's own exp to the millisecond, however long the requests take.
    freezeForTest(gw.clock);
    const fresh = await signUp(gw);
    const expMs = decodeJwt(fresh.accessToken).exp! * 1000;
    gw.clock.advance((expMs + 59_999 - gw.clock.now().getTime()) / 1000);
    const late = await gw.gql(MeDocument, {}, { token: fresh.accessToken });
    expect(late.errors).toBeUndefined();
    expect(late.data?.me.id).toBe(fresh.user.id);

    gw.clock.advance(0.001);
    expect(gw.clock.now().getTime()).toBe(expMs + 60_000);
    const expired = await gw.gql(MeDocument, {}, { token: fresh.accessToken });
    expect(expired.status).toBe(200);
    expect(codeOf(expired)).toBe('UNAUTHENTICATED');
  });

  it('refuses a token issued in the future (beyond the clock skew) or older than the TTL, even signed with the gateway key', async () => {
    const iat = Math.floor(gw.clock.now().getTime() / 1000);
    const ttl = gw.config.jwt.accessTokenTtl;
    // An instance whose clock runs 5 minutes ahead: its token would outlive its TTL here.
    await expectAnonymous(`Bearer ${await resignWithGatewayKey(user.accessToken, { payload: { iat: iat + 300, exp: iat + 300 + ttl } })}`);
    // Issued longer ago than any token lives, with an exp stretched to match.
    await expectAnonymous(`Bearer ${await resignWithGatewayKey(user.accessToken, { payload: { iat: iat - ttl - 120, exp: iat + 600 } })}`);
    // Within the skew both ways is fine.
    await expectAccepted(await resignWithGatewayKey(user.accessToken, { payload: { iat: iat + 30, exp: iat + 30 + ttl } }));
  });

  it('refuses a token whose exp claim was pushed forward under the old signature', async () => {
    const exp = Math.floor(gw.clock.now().getTime() / 1000) + 600;
    await expectAnonymous(`Bearer ${tamper(user.accessToken, { payload: { exp } })}`);
  });
});
