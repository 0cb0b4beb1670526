// Rule: a subgraph verifies the gateway's tokens with the kit alone: it discovers and caches the
// keys, starts while the gateway is down, follows a key rotation by refetching on an unknown
// kid, drops a retired key once its cached set is due for a refetch, keeps working on cached
// keys while the gateway is down (asking it again at most once per cooldown, and giving up on a
// discovery that does not answer within 2 s, asked again a second later), and refuses what the gateway
// would refuse (expired, wrong audience, issuer or typ, an algorithm it does not pin, forged) with a typed reason.
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, parseEncryptionKeys } from '../../src/config';
import { systemClock, type Clock } from '../../src/domain/clock';
import { SecretBox, generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { CLOCK_SKEW_SECONDS, MAX_ACCESS_TOKEN_TTL, rotateSigningKey } from '../../src/domain/tokens';
import { PostgresSigningKeyStore } from '../../src/storage/postgres';
import { createLogger } from '../../src/logger';
import { RedisRevocationFeed } from '../../src/storage/redis/revocation-feed';
import { createRevocationFeed, createVerifier, type VerifierOptions } from '../../src/subgraph';
import { MAX_DOCUMENT_BYTES } from '../../src/subgraph/verifier';
import { LogoutDocument } from '../gql/graphql';
import { recordingAudit, signUp } from '../helpers/fixtures';
import { createTestDatabase, startGateway, type TestDatabase, type TestGateway } from '../helpers/gateway';
import { freePort } from '../helpers/processes';
import { TestClock } from '../helpers/test-clock';

const encryptionKeys = generateEncryptionKeyEntry('test');
let database: TestDatabase;
let port: number;
let issuer: string;
let gw: TestGateway | undefined;
/** A token of `iss` in every claim, signed by a key nobody publishes: without keys it can be neither accepted nor refused. */
const wellFormed = async (iss: string) =>
  new SignJWT({ sid: 's', roles: [], amr: ['pwd'] })
    .setProtectedHeader({ alg: 'ES256', kid: 'k', typ: 'at+jwt' })
    .setIssuer(iss)
    .setAudience('graphql')
    .setSubject('u')
    .setJti('j')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign((await generateKeyPair('ES256')).privateKey);
/** The verifier's own clock, stopped: only `advance` moves it, so a wait is to the millisecond. */
const stoppedClock = () => {
  const clock = new TestClock();
  clock.freeze();
  return clock;
};
const start = () =>
  startGateway({ database: database.database, encryptionKeys, env: { PORT: String(port), JWT_ISSUER: issuer } });

beforeAll(async () => {
  database = await createTestDatabase();
  port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await gw?.close();
  await database?.drop();
});

describe('createVerifier', () => {
  const clock = new TestClock();
  // Not at collection: the gateway's tokens are issued by the system's time. The tests share the
  // verifier's state, so the clock stops once: this block must take well under the 60 s of skew.
  beforeAll(() => clock.freeze());
  const verifier = () => createVerifier({ issuer, audience: 'graphql', cooldownSeconds: 1, clock });
  let shared: ReturnType<typeof createVerifier>;

  it('starts while the gateway is down (unavailable, no throw) and works once it is up, by discovery', async () => {
    shared = verifier();
    expect(await shared.verify(await wellFormed(issuer))).toEqual({ ok: false, reason: 'unavailable' });
    // Not a JWT at all: refused as such, keys or no keys (and not retried by the client).
    for (const garbage of ['a.b.c', 'not-a-jwt', `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.e30`]) {
      expect(await shared.verify(garbage), garbage).toEqual({ ok: false, reason: 'malformed' });
    }
    // An algorithm it does not pin: refused as when the keys are there (jose asks for no key).
    const hs256 = await new SignJWT({ sid: 's' }).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).sign(new Uint8Array(32));
    expect(await shared.verify(hs256)).toEqual({ ok: false, reason: 'invalid' });
    gw = await start();
    const user = await signUp(gw);
    expect(await shared.verify(user.accessToken)).toEqual({ ok: false, reason: 'unavailable' }); // not asked again within the second
    clock.advance(1); // a failed discovery is asked again a second later
    const result = await shared.verifyAuthorization(`Bearer ${user.accessToken}`);
    expect(result).toMatchObject({ ok: true, viewer: { userId: user.user.id, roles: ['user'], amr: ['pwd'] } });
    if (result.ok) expect(result.viewer.expiresAt.getTime()).toBeGreaterThan(Date.now());
  });

  it('refuses with a reason: missing, malformed, forged, wrong audience, expired, issued in the future', async () => {
    const user = await signUp(gw!);
    expect(await shared.verify(undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(await shared.verify('not-a-jwt')).toEqual({ ok: false, reason: 'malformed' });
    const [h, p, s] = user.accessToken.split('.');
    // Other spellings of the very token, which jose's decoder would read as it: one per token.
    for (const respelt of [`${h}.${p}. ${s}`, `${h}.${p}.${s}=`, `${h}.${p}.${s!.slice(0, 40)}\n${s!.slice(40)}`, ` ${user.accessToken}`]) {
      expect(await shared.verify(respelt), respelt).toEqual({ ok: false, reason: 'malformed' });
    }
    const flipped = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), roles: ['admin'] })).toString('base64url');
    expect(await shared.verify(`${h}.${flipped}.${s}`)).toEqual({ ok: false, reason: 'invalid' });
    const otherAudience = createVerifier({ issuer, audience: 'billing', jwksUrl: `${issuer}/.well-known/jwks.json` });
    expect(await otherAudience.verify(user.accessToken)).toEqual({ ok: false, reason: 'invalid' });
    gw!.clock.advance(-3600); // tokens issued an hour ago (by the verifier's clock) have expired
    const old = await signUp(gw!);
    gw!.clock.advance(3600);
    expect(await shared.verify(old.accessToken)).toEqual({ ok: false, reason: 'expired' });
    gw!.clock.advance(300); // a gateway whose clock runs 5 minutes ahead
    const early = await signUp(gw!);
    gw!.clock.advance(-300);
    expect(await shared.verify(early.accessToken)).toEqual({ ok: false, reason: 'invalid' });
  });

  it("refuses the gateway's own claims re-signed with its own key but another issuer, or another typ (the control: as they are)", async () => {
    const user = await signUp(gw!);
    const { kid, alg, privateKey } = gw!.deps.keys.signingKey(gw!.clock.now());
    const resign = (payload: JWTPayload, header: Record<string, unknown> = {}) =>
      new SignJWT({ ...decodeJwt(user.accessToken), ...payload }).setProtectedHeader({ alg, kid, typ: 'at+jwt', ...header }).sign(privateKey);
    expect(await shared.verify(await resign({}))).toMatchObject({ ok: true, viewer: { userId: user.user.id } });
    for (const iss of ['https://evil.test', `${issuer}/`]) {
      expect(await shared.verify(await resign({ iss })), iss).toEqual({ ok: false, reason: 'invalid' });
    }
    for (const typ of ['JWT', 'id_token+jwt', undefined]) {
      expect(await shared.verify(await resign({}, { typ })), String(typ)).toEqual({ ok: false, reason: 'invalid' });
    }
    // Without a claim every gateway token has (the gateway refuses it too), or with one of another type.
    for (const claim of ['sub', 'sid', 'jti', 'iat', 'exp']) {
      expect(await shared.verify(await resign({ [claim]: undefined })), `without ${claim}`).toEqual({ ok: false, reason: 'invalid' });
    }
    for (const claims of [{ roles: 'admin' }, { roles: [1] }, { amr: 'pwd' }, { sid: 123 }, { sub: 42 }]) {
      expect(await shared.verify(await resign(claims as JWTPayload)), JSON.stringify(claims)).toEqual({ ok: false, reason: 'invalid' });
    }
  });

  it('follows a rotation: a token with a new kid makes it refetch the key set, no restart', async () => {
    const kidBefore = gw!.deps.keys.signingKey(gw!.clock.now()).kid;
    await rotateSigningKey(
      { signingKeys: new PostgresSigningKeyStore(database.database.db), box: new SecretBox(parseEncryptionKeys(encryptionKeys)), clock: gw!.clock, audit: recordingAudit().audit },
      { alg: 'ES256', publishAhead: gw!.config.keys.publishAhead, accessTokenTtl: gw!.config.jwt.accessTokenTtl, reloadSeconds: gw!.config.keys.reloadSeconds },
    );
    gw!.clock.advance(gw!.config.keys.publishAhead);
    await gw!.reloadKeys();
    // Back to the verifier's time (a ring loaded after the switch holds only the new key), or the kit would refuse tokens issued in its future.
    gw!.clock.advance(-gw!.config.keys.publishAhead);
    const user = await signUp(gw!);
    expect(decodeProtectedHeader(user.accessToken).kid).not.toBe(kidBefore);
    expect(await shared.verify(user.accessToken)).toEqual({ ok: false, reason: 'invalid' }); // within the cooldown since the last fetch
    clock.advance(1); // the cooldown since the last fetch
    expect(await shared.verify(user.accessToken)).toMatchObject({ ok: true });
  });

  it('gives up on a discovery that does not answer within 2 s, and asks again a second later at the earliest', async () => {
    const connections: Socket[] = [];
    // Accepts and reads, never answers. Requests are counted, not connections: undici may open one it sends nothing on.
    let requests = 0;
    const silent = createNetServer((socket) => {
      connections.push(socket);
      socket.once('data', () => requests++);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const clock = stoppedClock();
      const hanging = createVerifier({ issuer: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, audience: 'graphql', clock });
      const token = await wellFormed(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`);
      const started = Date.now();
      expect(await hanging.verify(token)).toEqual({ ok: false, reason: 'unavailable' });
      expect(Date.now() - started).toBeLessThan(3000);
      expect(await hanging.verify(token)).toEqual({ ok: false, reason: 'unavailable' });
      clock.advance(0.999);
      expect(await hanging.verify(token)).toEqual({ ok: false, reason: 'unavailable' });
      expect(requests).toBe(1); // within the second: not asked again
      clock.advance(0.001);
      const again = hanging.verify(token);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(requests).toBe(2);
      expect(await again).toEqual({ ok: false, reason: 'unavailable' });
    } finally {
      for (const socket of connections) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('gives up on a key set that does not answer within 2 s as well', async () => {
    const connections: Socket[] = [];
    const silent = createNetServer((socket) => void connections.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const hanging = createVerifier({ issuer: url, audience: 'graphql', jwksUrl: `${url}/jwks.json`, clock: stoppedClock() });
      const started = Date.now();
      expect(await hanging.verify(await wellFormed(url))).toEqual({ ok: false, reason: 'unavailable' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      for (const socket of connections) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('refuses a cooldown under 1 s, or not a number: every unknown kid would fetch the key set', () => {
    for (const cooldownSeconds of [0, 0.5, Number.NaN, Number.POSITIVE_INFINITY, -1]) {
      expect(() => createVerifier({ issuer, audience: 'graphql', cooldownSeconds })).toThrow(TypeError);
    }
  });

  it('keeps verifying with cached keys while the gateway is down', async () => {
    const user = await signUp(gw!);
    expect(await shared.verify(user.accessToken)).toMatchObject({ ok: true });
    await gw!.close();
    gw = undefined;
    expect(await shared.verify(user.accessToken)).toMatchObject({ ok: true, viewer: { userId: user.user.id } });
  });
});

/**
 * An issuer whose published key set the test controls: `publish(keys)` changes it, `down()`
 * makes it answer 503 (`up()` again); `fetches` counts the requests for it. `pad(bytes, how)`
 * makes the document that much larger, with its length declared or streamed in chunks. Its
 * tokens are issued by `clock`, the verifier's.
 */
async function fakeIssuer(clock: Clock = systemClock) {
  let published: JWK[] = [];
  let up = true;
  let fetches = 0;
  let padding = { bytes: 0, how: 'declared' as 'declared' | 'streamed' };
  const server = createServer((request, response) => {
    fetches++;
    if (!up) return response.writeHead(503).end();
    const body = JSON.stringify({ keys: published, ...(padding.bytes > 0 && { padding: ' '.repeat(padding.bytes) }) });
    if (padding.how === 'declared') {
      return response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    }
    response.writeHead(200, { 'content-type': 'application/json' }); // no length: chunked
    for (let at = 0; at < body.length; at += 64 * 1024) response.write(body.slice(at, at + 64 * 1024));
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const key = async (kid: string, alg = 'ES256') => {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
  };
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    key,
    publish: (...keys: Array<{ jwk: JWK }>) => (published = keys.map((k) => k.jwk)),
    down: () => (up = false),
    up: () => (up = true),
    pad: (bytes: number, how: 'declared' | 'streamed' = 'declared') => (padding = { bytes, how }),
    fetches: () => fetches,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    /** `expiresIn`: seconds from now (negative: expired that long ago); issued 5 minutes before that. */
    token: (signer: { kid: string; alg: string; privateKey: CryptoKey }, expiresIn = 600) =>
      new SignJWT({ sid: 's1', roles: ['user'], amr: ['pwd'] })
        .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'at+jwt' })
        .setIssuer('https://issuer.test')
        .setAudience('graphql')
        .setSubject('u1')
        .setJti('j1')
        .setIssuedAt(Math.floor(clock.now().getTime() / 1000) + Math.min(0, expiresIn - 300))
        .setExpirationTime(Math.floor(clock.now().getTime() / 1000) + expiresIn)
        .sign(signer.privateKey),
  };
}

describe('createVerifier: discovery', () => {
  it('takes the key set only from a discovery document of the issuer itself: its own issuer, no redirect', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'd1', alg: 'ES256', use: 'sig' };
    let claimed = '';
    const server = createServer((request, response) => {
      if (request.url === '/moved/.well-known/openid-configuration') return response.writeHead(302, { location: '/.well-known/openid-configuration' }).end();
      const body = request.url === '/jwks.json' ? { keys: [jwk] } : { issuer: claimed, jwks_uri: `${base}/jwks.json` };
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const tokenOf = (iss: string) =>
      new SignJWT({ sid: 's1', roles: ['user'], amr: ['pwd'] })
        .setProtectedHeader({ alg: 'ES256', kid: 'd1', typ: 'at+jwt' })
        .setIssuer(iss)
        .setAudience('graphql')
        .setSubject('u1')
        .setJti('j1')
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(privateKey);
    const verdict = async (iss: string) => createVerifier({ issuer: iss, audience: 'graphql' }).verify(await tokenOf(iss));
    try {
      claimed = 'https://another-issuer.test';
      expect(await verdict(base)).toEqual({ ok: false, reason: 'unavailable' });
      // Redirected to a document that names the first URL as its issuer: still not the issuer's own.
      claimed = `${base}/moved`;
      expect(await verdict(`${base}/moved`)).toEqual({ ok: false, reason: 'unavailable' });
      claimed = base;
      expect(await verdict(base)).toMatchObject({ ok: true });

      // The issuer written otherwise than the gateway writes it (a trailing slash) looks like an
      // outage to its tokens, and is said once, naming both, until a discovery succeeds.
      const warnings: Array<{ details: object; message: string }> = [];
      const logger = { warn: (details: object, message: string) => void warnings.push({ details, message }), info: () => {} };
      const clock = stoppedClock();
      const slashed = createVerifier({ issuer: `${base}/`, audience: 'graphql', logger, clock });
      const token = await tokenOf(`${base}/`);
      expect(await slashed.verify(token)).toEqual({ ok: false, reason: 'unavailable' });
      clock.advance(1); // a failed discovery is asked again a second later
      expect(await slashed.verify(token)).toEqual({ ok: false, reason: 'unavailable' });
      expect(warnings).toEqual([
        {
          message: 'discovery of the key set failed: tokens that could pass answer unavailable',
          details: { err: { type: 'DiscoveryError', reason: `discovery names another issuer: "${base}", not "${base}/"` } },
        },
      ]);
      claimed = `${base}/`;
      clock.advance(1);
      expect(await slashed.verify(token)).toMatchObject({ ok: true });
      // Once it worked, the next spell of failures is said again: here the key set's, due again
      // after its maximum age while the issuer is gone (the last keys stand in).
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      clock.advance(300);
      expect(await slashed.verify(token)).toMatchObject({ ok: true });
      expect(warnings).toHaveLength(2);
      expect(warnings[1]).toMatchObject({ message: 'the key set could not be fetched: verifying with the last keys fetched', details: { err: { type: 'TypeError' } } });
    } finally {
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('createVerifier: warnings', () => {
  const warningsTo = () => {
    const warnings: Array<{ message: string; details: { err?: { reason?: string } } }> = [];
    return { warnings, logger: { warn: (details: object, message: string) => void warnings.push({ message, details }), info: () => {} } };
  };

  it('tells a failure of the key set after a failed discovery, a matter of its own', async () => {
    let mode: 'down' | 'no-key-set' = 'down';
    const server = createServer((request, response) => {
      if (mode === 'down') return response.writeHead(503).end();
      if (request.url === '/.well-known/openid-configuration') {
        return response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks.json` }));
      }
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const { warnings, logger } = warningsTo();
      const clock = stoppedClock();
      const verifier = createVerifier({ issuer: base, audience: 'graphql', cooldownSeconds: 1, logger, clock });
      const token = await wellFormed(base);
      expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'unavailable' });
      mode = 'no-key-set'; // discovery answers now, but names a key set that is not there
      for (let i = 0; i < 3; i++) {
        clock.advance(1);
        expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'unavailable' });
      }
      expect(warnings.map((w) => w.message)).toEqual([
        'discovery of the key set failed: tokens that could pass answer unavailable',
        'the key set could not be fetched: tokens that could pass answer unavailable',
      ]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("tells once a discovery whose jwks_uri is no absolute http(s) URL, saying so, however often it is asked again", async () => {
    const server = createServer((_request, response) =>
      void response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: base, jwks_uri: '/jwks.json' })),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const { warnings, logger } = warningsTo();
      const clock = stoppedClock();
      const verifier = createVerifier({ issuer: base, audience: 'graphql', logger, clock });
      const token = await wellFormed(base);
      for (let i = 0; i < 3; i++) {
        expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'unavailable' });
        clock.advance(1); // a failed discovery is asked again a second later
      }
      expect(warnings).toEqual([
        {
          message: 'discovery of the key set failed: tokens that could pass answer unavailable',
          details: { err: { type: 'DiscoveryError', reason: 'discovery has no jwks_uri that is an absolute http(s) URL' } },
        },
      ]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('says what the key set answered when it was no 200: a misspelt jwksUrl is told from an outage', async () => {
    const server = createServer((_request, response) => void response.writeHead(404).end('Not found'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { warnings, logger } = warningsTo();
      const jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.jsn`;
      const verifier = createVerifier({ issuer: 'https://issuer.test', audience: 'graphql', jwksUrl, logger });
      expect(await verifier.verify(await wellFormed('https://issuer.test'))).toEqual({ ok: false, reason: 'unavailable' });
      expect(warnings).toEqual([
        { message: 'the key set could not be fetched: tokens that could pass answer unavailable', details: { err: { type: 'KeySetError', reason: 'the key set answered 404' } } },
      ]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("tells once that tokens signed with the issuer's keys name another audience or issuer than the one given", async () => {
    const issuer = await fakeIssuer();
    try {
      const { warnings, logger } = warningsTo();
      const key = await issuer.key('k');
      issuer.publish(key);
      const token = await issuer.token(key); // aud graphql, iss https://issuer.test
      const misspelt = createVerifier({ issuer: 'https://issuer.test/', audience: 'graphq1', jwksUrl: issuer.url, logger });
      for (let i = 0; i < 3; i++) expect(await misspelt.verify(token)).toEqual({ ok: false, reason: 'invalid' });
      const forged = await issuer.token(await issuer.key('unpublished')); // another kid: no signature checked
      expect(await misspelt.verify(forged)).toEqual({ ok: false, reason: 'invalid' });
      expect(warnings).toEqual([
        {
          message: "a token signed with the issuer's keys names another issuer: is issuer the gateway's JWT_ISSUER?",
          details: { claim: 'iss', token: '"https://issuer.test"', expected: 'https://issuer.test/' },
        },
      ]);
      const audienceOnly = createVerifier({ issuer: 'https://issuer.test', audience: 'graphq1', jwksUrl: issuer.url, logger });
      for (let i = 0; i < 3; i++) expect(await audienceOnly.verify(token)).toEqual({ ok: false, reason: 'invalid' });
      expect(warnings.slice(1)).toEqual([
        {
          message: "a token signed with the issuer's keys names another audience: is audience the gateway's JWT_AUDIENCE?",
          details: { claim: 'aud', token: '"graphql"', expected: 'graphq1' },
        },
      ]);
      // Set right, nothing is said.
      const right = createVerifier({ issuer: 'https://issuer.test', audience: 'graphql', jwksUrl: issuer.url, logger });
      expect(await right.verify(token)).toMatchObject({ ok: true });
      expect(warnings).toHaveLength(2);
      // What the token names is quoted, but no more than 200 characters of it.
      const long = await new SignJWT({ ...decodeJwt(token), aud: 'a'.repeat(1000) }).setProtectedHeader({ alg: 'ES256', kid: 'k', typ: 'at+jwt' }).sign(key.privateKey);
      expect(await right.verify(long)).toEqual({ ok: false, reason: 'invalid' });
      expect(warnings[2]!.details).toMatchObject({ claim: 'aud', token: `"${'a'.repeat(199)}` });
    } finally {
      await issuer.close();
    }
  });

  it('tells an outage of the issuer once, though tokens of keys it holds keep verifying meanwhile', async () => {
    const issuer = await fakeIssuer();
    try {
      const { warnings, logger } = warningsTo();
      // A set fresh for a minute, so that known keys are answered from it without a fetch.
      const clock = stoppedClock();
      const verifier = createVerifier({ issuer: 'https://issuer.test', audience: 'graphql', jwksUrl: issuer.url, cooldownSeconds: 1, keySetMaxAgeSeconds: 60, logger, clock });
      const key = await issuer.key('known');
      issuer.publish(key);
      const token = await issuer.token(key);
      expect(await verifier.verify(token)).toMatchObject({ ok: true });
      issuer.down();
      for (let i = 0; i < 4; i++) {
        clock.advance(1); // past the cooldown: an unknown kid asks the issuer
        expect(await verifier.verify(token)).toMatchObject({ ok: true });
        expect(await verifier.verify(await issuer.token(await issuer.key(`unknown-${i}`)))).toEqual({ ok: false, reason: 'invalid' });
      }
      expect(warnings.map((w) => w.message)).toEqual(['the key set could not be fetched: verifying with the last keys fetched']);
      issuer.up();
      clock.advance(1);
      expect(await verifier.verify(await issuer.token(await issuer.key('unknown-after')))).toEqual({ ok: false, reason: 'invalid' }); // fetched: the spell ends
      issuer.down();
      clock.advance(1);
      expect(await verifier.verify(await issuer.token(await issuer.key('unknown-again')))).toEqual({ ok: false, reason: 'invalid' });
      expect(warnings).toHaveLength(2);
    } finally {
      await issuer.close();
    }
  });
});

describe('createVerifier: the key set over time', () => {
  const issuers: Array<Awaited<ReturnType<typeof fakeIssuer>>> = [];
  afterAll(async () => {
    for (const issuer of issuers) await issuer.close();
  });
  const setUp = async (cooldownSeconds = 1, keySetMaxAgeSeconds = 1, logger?: VerifierOptions['logger']) => {
    const clock = stoppedClock();
    const issuer = await fakeIssuer(clock);
    issuers.push(issuer);
    const verifier = createVerifier({ issuer: 'https://issuer.test', audience: 'graphql', jwksUrl: issuer.url, cooldownSeconds, keySetMaxAgeSeconds, logger, clock });
    return { issuer, verifier, clock };
  };

  it('stops verifying with a key the issuer no longer publishes once the set is older than keySetMaxAgeSeconds, outage or not', async () => {
    const { issuer, verifier, clock } = await setUp();
    const [retired, current] = [await issuer.key('retired'), await issuer.key('current')];
    issuer.publish(retired, current);
    const old = await issuer.token(retired);
    expect(await verifier.verify(old)).toMatchObject({ ok: true });
    issuer.publish(current); // the gateway retired the old key (a leaked one, say)
    clock.advance(0.999);
    expect(await verifier.verify(old)).toMatchObject({ ok: true }); // the set not due yet
    clock.advance(0.001);
    expect(await verifier.verify(old)).toEqual({ ok: false, reason: 'invalid' });
    const fresh = await issuer.token(current);
    expect(await verifier.verify(fresh)).toMatchObject({ ok: true });
    // The issuer then goes away: the last set it published stands in, without the retired key.
    issuer.down();
    clock.advance(1);
    expect(await verifier.verify(old)).toEqual({ ok: false, reason: 'invalid' });
    expect(await verifier.verify(fresh)).toMatchObject({ ok: true });
  });

  it('keeps the last key set while the issuer cannot answer, asking it again at most once per cooldown', async () => {
    const warnings: string[] = [];
    const { issuer, verifier, clock } = await setUp(30, 1, { warn: (_details, message) => void warnings.push(message), info: () => {} });
    const key = await issuer.key('only');
    issuer.publish(key);
    const token = await issuer.token(key);
    expect(await verifier.verify(token)).toMatchObject({ ok: true });
    issuer.down();
    clock.advance(1); // the set is due for a refetch
    const before = issuer.fetches();
    for (let i = 0; i < 20; i++) expect(await verifier.verify(token)).toMatchObject({ ok: true });
    // Tokens naming keys nobody knows do not make it ask either (they are refused).
    const stranger = await issuer.token(await issuer.key('unknown'));
    for (let i = 0; i < 5; i++) expect(await verifier.verify(stranger)).toEqual({ ok: false, reason: 'invalid' });
    clock.advance(29.999);
    expect(await verifier.verify(token)).toMatchObject({ ok: true });
    expect(issuer.fetches() - before).toBe(1);
    clock.advance(0.001); // a cooldown after the failed fetch: asked again
    expect(await verifier.verify(token)).toMatchObject({ ok: true });
    expect(issuer.fetches() - before).toBe(2);
    expect(warnings).toEqual(['the key set could not be fetched: verifying with the last keys fetched']);
  });

  it('with no key set yet, answers unavailable while the issuer cannot answer, asking it at most once a second', async () => {
    const { issuer, verifier, clock } = await setUp(30);
    const key = await issuer.key('first');
    issuer.publish(key);
    const token = await issuer.token(key);
    issuer.down(); // 503 from the subgraph's start
    for (let i = 0; i < 20; i++) expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'unavailable' });
    // What the keys could not save, refused as they would be with the keys: expired beyond the
    // skew, issued too long ago; another issuer or audience, a claim missing or of another type.
    expect(await verifier.verify(await issuer.token(key, -61))).toEqual({ ok: false, reason: 'expired' });
    expect(await verifier.verify(await issuer.token(key, -59))).toEqual({ ok: false, reason: 'unavailable' });
    const claims = decodeJwt(token);
    const variant = (changed: JWTPayload) => new SignJWT({ ...claims, ...changed }).setProtectedHeader({ alg: 'ES256', kid: 'first', typ: 'at+jwt' }).sign(key.privateKey);
    const now = Math.floor(clock.now().getTime() / 1000);
    expect(await verifier.verify(await variant({ iat: now - 3661, exp: now + 60 }))).toEqual({ ok: false, reason: 'expired' });
    const refusedWhateverTheKeys: JWTPayload[] = [
      { jti: undefined },
      { iss: undefined },
      { iss: 'https://issuer.test/' },
      { aud: undefined },
      { aud: 'another-api' },
      { exp: 'later' as unknown as number },
      { iat: now + 120 }, // issued in the future, beyond the skew
      { roles: 'admin' as unknown as string[] },
      { sid: 7 as unknown as string },
    ];
    for (const changed of refusedWhateverTheKeys) {
      expect(await verifier.verify(await variant(changed)), JSON.stringify(changed)).toEqual({ ok: false, reason: 'invalid' });
    }
    // Its clockToleranceSeconds, not the default's 60.
    const down = await fakeIssuer(); // another, so that this one's fetches are counted alone
    issuers.push(down);
    down.down();
    const strictClock = stoppedClock();
    const strict = createVerifier({ issuer: 'https://issuer.test', audience: 'graphql', jwksUrl: down.url, clockToleranceSeconds: 0, clock: strictClock });
    expect(await strict.verify(await issuer.token(key, -30))).toEqual({ ok: false, reason: 'expired' });
    const soon = await issuer.token(key, 30);
    expect(await strict.verify(soon)).toEqual({ ok: false, reason: 'unavailable' });
    strictClock.advance(31); // expired by its clock
    expect(await strict.verify(soon)).toEqual({ ok: false, reason: 'expired' });
    // A token whose header is a JWT's but whose payload is not: malformed, not unavailable.
    const [header, payload, signature] = token.split('.') as [string, string, string];
    expect(await verifier.verify(`${header}.bm90IGpzb24.${signature}`)).toEqual({ ok: false, reason: 'malformed' });
    // Nor what jose refuses before it asks for a key, the same answer as with the keys (below).
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const headerOf = (extra: object) => part({ ...JSON.parse(Buffer.from(header, 'base64url').toString()), ...extra });
    const refusedAnyway: Array<[string, string]> = [
      [`${header}.${payload}.***`, 'malformed'],
      [`${header}.${payload}.`, 'malformed'],
      // The token itself with its signature padded or followed by a line break, which jose
      // decodes as it: refused as the gateway refuses them, one spelling per token.
      [`${token}==`, 'malformed'],
      [`${token}\n`, 'malformed'],
      [`${headerOf({ crit: 'exp' })}.${payload}.${signature}`, 'malformed'],
      [`${headerOf({ crit: ['exp'] })}.${payload}.${signature}`, 'invalid'],
      [`${headerOf({ typ: 'JWT' })}.${payload}.${signature}`, 'invalid'],
    ];
    for (const [refused, reason] of refusedAnyway) expect(await verifier.verify(refused), refused).toEqual({ ok: false, reason });
    // What could pass is unavailable: a typ written otherwise but the same as jose reads it.
    const couldPass = [`${headerOf({ typ: 'application/AT+JWT' })}.${payload}.${signature}`];
    for (const token of couldPass) expect(await verifier.verify(token), token).toEqual({ ok: false, reason: 'unavailable' });
    expect(issuer.fetches()).toBe(1);
    issuer.up();
    clock.advance(0.999);
    expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'unavailable' }); // within the second
    expect(issuer.fetches()).toBe(1);
    clock.advance(0.001);
    expect(await verifier.verify(token)).toMatchObject({ ok: true });
    expect(issuer.fetches()).toBe(2);
    for (const [refused, reason] of refusedAnyway) expect(await verifier.verify(refused), refused).toEqual({ ok: false, reason });
    for (const passing of couldPass.slice(1)) expect(await verifier.verify(passing), passing).toMatchObject({ ok: true });
  });

  it('asks an issuer that cannot answer at most once per cooldown for unknown keys, though its set is not due yet', async () => {
    const { issuer, verifier, clock } = await setUp(1, 60);
    const key = await issuer.key('known');
    issuer.publish(key);
    expect(await verifier.verify(await issuer.token(key))).toMatchObject({ ok: true });
    issuer.down();
    const before = issuer.fetches();
    const stranger = await issuer.token(await issuer.key('unknown'));
    clock.advance(0.999);
    expect(await verifier.verify(stranger)).toEqual({ ok: false, reason: 'invalid' });
    expect(issuer.fetches() - before).toBe(0); // within the cooldown since the last fetch
    clock.advance(0.001); // past the cooldown, the set still fresh
    for (let i = 0; i < 5; i++) expect(await verifier.verify(stranger)).toEqual({ ok: false, reason: 'invalid' });
    expect(issuer.fetches() - before).toBe(1);
    expect(await verifier.verify(await issuer.token(key))).toMatchObject({ ok: true });
  });

  it('asks a reachable issuer at most once per cooldown for unknown keys: tokens naming new kids are no flood of fetches', async () => {
    const { issuer, verifier } = await setUp(30, 60);
    const key = await issuer.key('known');
    issuer.publish(key);
    expect(await verifier.verify(await issuer.token(key))).toMatchObject({ ok: true });
    const before = issuer.fetches();
    for (let i = 0; i < 5; i++) {
      expect(await verifier.verify(await issuer.token(await issuer.key(`unknown-${i}`)))).toEqual({ ok: false, reason: 'invalid' });
    }
    // The set was fetched within the cooldown: none of them makes it ask again.
    expect(issuer.fetches() - before).toBe(0);
  });

  it('allows 60 s of clock skew by default: a token expired 30 s ago passes, one expired 90 s ago is expired', async () => {
    const { issuer, verifier, clock } = await setUp(1, 60);
    const key = await issuer.key('skewed');
    issuer.publish(key);
    expect(await verifier.verify(await issuer.token(key, -30))).toMatchObject({ ok: true });
    expect(await verifier.verify(await issuer.token(key, -90))).toEqual({ ok: false, reason: 'expired' });
    // By the verifier's clock: a token of 10 minutes, 59 s past them, then 60.
    const token = await issuer.token(key, 600);
    clock.advance(659);
    expect(await verifier.verify(token)).toMatchObject({ ok: true });
    clock.advance(1);
    expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'expired' });
  });

  it('reads the bearer scheme in any case, as the gateway does', async () => {
    const { issuer, verifier } = await setUp(1, 60);
    const key = await issuer.key('any-case');
    issuer.publish(key);
    const token = await issuer.token(key);
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) expect(await verifier.verifyAuthorization(`${scheme} ${token}`), scheme).toMatchObject({ ok: true });
    // "Bearer" 1*SP b64token (RFC 6750): more than one space is still the token.
    expect(await verifier.verifyAuthorization(`Bearer   ${token}`)).toMatchObject({ ok: true });
    expect(await verifier.verifyAuthorization(`Bearer\t${token}`)).toEqual({ ok: false, reason: 'missing' });
    expect(await verifier.verifyAuthorization(`Basic ${token}`)).toEqual({ ok: false, reason: 'missing' });
  });

  it('refuses a key set larger than 1 MiB, declared or streamed: the last set stands in, or none', async () => {
    for (const how of ['declared', 'streamed'] as const) {
      const { issuer, verifier, clock } = await setUp();
      const [first, second] = [await issuer.key('first'), await issuer.key('second')];
      issuer.publish(first);
      issuer.pad(MAX_DOCUMENT_BYTES, how);
      expect(await verifier.verify(await issuer.token(first)), how).toEqual({ ok: false, reason: 'unavailable' });
      issuer.pad(MAX_DOCUMENT_BYTES - 1000, how); // within the bound, though large
      clock.advance(1); // past the second without a set
      expect(await verifier.verify(await issuer.token(first)), how).toMatchObject({ ok: true });
      // A larger set with a new key is refused; the last set answers meanwhile.
      issuer.publish(first, second);
      issuer.pad(MAX_DOCUMENT_BYTES, how);
      clock.advance(1); // the set is due
      expect(await verifier.verify(await issuer.token(second)), how).toEqual({ ok: false, reason: 'invalid' });
      expect(await verifier.verify(await issuer.token(first)), how).toMatchObject({ ok: true });
    }
  });

  it('pins the algorithms: a token signed with a published EdDSA key is refused unless the subgraph names EdDSA', async () => {
    const { issuer } = await setUp();
    const [es256, eddsa] = [await issuer.key('es256'), await issuer.key('eddsa', 'EdDSA')];
    issuer.publish(es256, eddsa);
    const pinned = createVerifier({ issuer: 'https://issuer.test', audience: 'graphql', jwksUrl: issuer.url });
    expect(await pinned.verify(await issuer.token(es256))).toMatchObject({ ok: true });
    expect(await pinned.verify(await issuer.token(eddsa))).toEqual({ ok: false, reason: 'invalid' });
    const named = createVerifier({ issuer: 'https://issuer.test', audience: 'graphql', jwksUrl: issuer.url, algorithms: ['EdDSA'] });
    expect(await named.verify(await issuer.token(eddsa))).toMatchObject({ ok: true });
  });

  it('refuses a clock tolerance under 0 s, or not a number (jose would refuse every token as unavailable)', () => {
    for (const clockToleranceSeconds of [-1, Number.NaN, Number.POSITIVE_INFINITY, '60' as unknown as number]) {
      expect(() => createVerifier({ issuer: 'https://issuer.test', audience: 'graphql', clockToleranceSeconds })).toThrow(TypeError);
    }
    expect(() => createVerifier({ issuer: 'https://issuer.test', audience: 'graphql', clockToleranceSeconds: 0 })).not.toThrow();
  });

  it('refuses at once a jwksUrl, or an issuer to discover from, that is no absolute http(s) URL: every token would answer unavailable, as in an outage', () => {
    for (const jwksUrl of ['127.0.0.1:4000/.well-known/jwks.json', '/.well-known/jwks.json', 'file:///etc/jwks.json']) {
      expect(() => createVerifier({ issuer: 'https://issuer.test', audience: 'graphql', jwksUrl }), jwksUrl).toThrow(new TypeError('jwksUrl must be an absolute http(s) URL'));
    }
    expect(() => createVerifier({ issuer: 'issuer.test', audience: 'graphql' })).toThrow(new TypeError('issuer must be an absolute http(s) URL'));
    // An empty jwksUrl (an environment variable left empty) means discovery; with a jwksUrl, the
    // issuer is only compared with the tokens' iss.
    expect(() => createVerifier({ issuer: 'https://issuer.test', audience: 'graphql', jwksUrl: '' })).not.toThrow();
    expect(() => createVerifier({ issuer: 'urn:gateway', audience: 'graphql', jwksUrl: 'https://issuer.test/jwks.json' })).not.toThrow();
  });

  it('refuses a missing or empty issuer or audience, an empty or malformed algorithm list, an isRevoked that is no function: jose would skip the check', () => {
    // Plain JavaScript has no types to catch these; without the throw the claim went unchecked.
    const refused: Array<[object, string]> = [
      [{ audience: 'graphql', jwksUrl: 'https://issuer.test/jwks.json' }, 'issuer must be a non-empty string'],
      [{ issuer: '', audience: 'graphql', jwksUrl: 'https://issuer.test/jwks.json' }, 'issuer must be a non-empty string'],
      [{ issuer: 'https://issuer.test' }, 'audience must be a non-empty string'],
      [{ issuer: 'https://issuer.test', audience: '' }, 'audience must be a non-empty string'],
      [{ issuer: 'https://issuer.test', audience: ['graphql'] }, 'audience must be a non-empty string'],
      // The gateway refuses such a JWT_AUDIENCE: every token would be invalid.
      [{ issuer: 'https://issuer.test', audience: 'graphql ' }, 'audience must not begin or end with a space'],
      [{ issuer: 'https://issuer.test', audience: ' graphql' }, 'audience must not begin or end with a space'],
      [{ issuer: 'https://issuer.test ', audience: 'graphql', jwksUrl: 'https://issuer.test/jwks.json' }, 'issuer must not begin or end with a space'],
      [{ issuer: 'https://issuer.test', audience: 'graphql', algorithms: [] }, 'algorithms must be a non-empty list'],
      [{ issuer: 'https://issuer.test', audience: 'graphql', algorithms: 'ES256' }, 'algorithms must be a non-empty list'],
      [{ issuer: 'https://issuer.test', audience: 'graphql', isRevoked: new Set(['s1']) }, 'isRevoked must be a function'],
    ];
    for (const [options, message] of refused) {
      expect(() => createVerifier(options as Parameters<typeof createVerifier>[0]), JSON.stringify(options)).toThrow(TypeError);
      expect(() => createVerifier(options as Parameters<typeof createVerifier>[0]), JSON.stringify(options)).toThrow(message);
    }
  });

  it('refuses a clock that is no object with a now() method answering a valid Date, in the verifier and in the revocation feed', async () => {
    const answering = (value: unknown) => ({ now: () => value });
    for (const clock of [Date, Date.now, {}, { now: 1 }, null, answering(Date.now()), answering(new Date(Number.NaN)), answering('2026-12-07')] as unknown as Clock[]) {
      expect(() => createVerifier({ issuer: 'https://issuer.test', audience: 'graphql', clock }), String(clock)).toThrow(new TypeError('clock must be an object with a now() method that returns a Date'));
      await expect(createRevocationFeed({ redisUrl: 'redis://127.0.0.1:1', clock }), String(clock)).rejects.toThrow(TypeError);
    }
    expect(() => createVerifier({ issuer: 'https://issuer.test', audience: 'graphql', clock: new TestClock() })).not.toThrow();
    // One that goes wrong later is refused at the verification that meets it, before any fetch.
    const later = new TestClock();
    const verifier = createVerifier({ issuer: 'https://issuer.test', audience: 'graphql', clock: later });
    later.advance(Number.NaN);
    await expect(verifier.verify('a.b.c')).rejects.toThrow(new TypeError('clock must be an object with a now() method that returns a Date'));
  });

  it('refuses a key set maximum age under 1 s, or not a number', () => {
    for (const keySetMaxAgeSeconds of [0, 0.5, Number.NaN, Number.POSITIVE_INFINITY, -1]) {
      expect(() => createVerifier({ issuer: 'https://issuer.test', audience: 'graphql', keySetMaxAgeSeconds })).toThrow(TypeError);
    }
  });
});

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) console.log('skipping the subgraph revocation feed test: REDIS_URL unset');
describe.skipIf(!redisUrl)('createRevocationFeed', () => {
  let db: TestDatabase;
  let gateway: TestGateway;
  const feeds: Array<{ close(): Promise<void> }> = [];
  beforeAll(async () => {
    db = await createTestDatabase();
    gateway = await startGateway({ database: db.database, encryptionKeys });
  });
  afterAll(async () => {
    for (const feed of feeds) await feed.close();
    await gateway?.close();
    await db?.drop();
  });

  it('makes the verifier refuse a logged-out session within a second, and loads earlier revocations on connect', async () => {
    const prefix = gateway.config.rateLimit.prefix;
    const feed = await createRevocationFeed({ redisUrl: redisUrl!, prefix });
    feeds.push(feed);
    const verifier = createVerifier({
      issuer: gateway.config.jwt.issuer,
      audience: 'graphql',
      jwksUrl: `${gateway.url}/.well-known/jwks.json`,
      isRevoked: feed.isRevoked,
    });
    const user = await signUp(gateway);
    expect(await verifier.verify(user.accessToken)).toMatchObject({ ok: true });
    await gateway.gql(LogoutDocument, { refreshToken: user.refreshToken });
    const deadline = Date.now() + 1000;
    while ((await verifier.verify(user.accessToken)).ok) {
      if (Date.now() > deadline) throw new Error('the subgraph still accepts the revoked session after 1 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await verifier.verify(user.accessToken)).toEqual({ ok: false, reason: 'revoked' });

    const clock = new TestClock();
    const later = await createRevocationFeed({ redisUrl: redisUrl!, prefix, clock });
    feeds.push(later);
    const live = await signUp(gateway);
    const liveSid = JSON.parse(Buffer.from(live.accessToken.split('.')[1]!, 'base64url').toString()).sid as string;
    expect(later.isRevoked(liveSid)).toBe(false);
    const revokedSid = JSON.parse(Buffer.from(user.accessToken.split('.')[1]!, 'base64url').toString()).sid as string;
    expect(later.isRevoked(revokedSid)).toBe(true);
    // By the feed's clock, once every token of the session has expired, the revocation has ended.
    clock.advance(MAX_ACCESS_TOKEN_TTL + CLOCK_SKEW_SECONDS);
    expect(later.isRevoked(revokedSid)).toBe(false);
  });

  it("without a prefix, listens where a gateway left at its default RATE_LIMIT_PREFIX shares revocations", async () => {
    const defaultPrefix = loadConfig({}).rateLimit.prefix;
    const redis = new Redis(redisUrl!);
    const gatewaySide = new RedisRevocationFeed(redis, defaultPrefix, createLogger('silent'));
    const sessionId = `default-prefix-${randomUUID()}`;
    try {
      const feed = await createRevocationFeed({ redisUrl: redisUrl! });
      feeds.push(feed);
      await gatewaySide.publish([sessionId], new Date(Date.now() + 60_000));
      const deadline = Date.now() + 2000;
      while (!feed.isRevoked(sessionId) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(feed.isRevoked(sessionId)).toBe(true);
    } finally {
      await gatewaySide.close();
      await redis.zrem(`${defaultPrefix}:revoked`, sessionId);
      await redis.quit();
    }
  });

  it('keeps the shared set in Redis for the clock skew beyond its latest entry', async () => {
    const redis = new Redis(redisUrl!);
    try {
      const user = await signUp(gateway);
      await gateway.gql(LogoutDocument, { refreshToken: user.refreshToken });
      const key = `${gateway.config.rateLimit.prefix}:revoked`;
      const latest = Number((await redis.zrange(key, -1, -1, 'WITHSCORES'))[1]);
      expect(latest).toBeGreaterThan(Date.now());
      expect(Number(await redis.call('PEXPIRETIME', key))).toBe(latest + 60_000);
    } finally {
      await redis.quit();
    }
  });

  it('purges from the shared set only what ended longer ago than the clock skew: another instance may run behind', async () => {
    const prefix = `${gateway.config.rateLimit.prefix}:skew`;
    const redis = new Redis(redisUrl!);
    const gatewaySide = new RedisRevocationFeed(redis, prefix, createLogger('silent'));
    try {
      const key = `${prefix}:revoked`;
      // Ended 30 s ago by this clock: still in force for an instance 30 s behind. Ended 2 minutes ago: gone for all.
      await redis.zadd(key, Date.now() - 30_000, 'within-skew', Date.now() - 120_000, 'long-ended');
      await redis.pexpire(key, 60_000);
      expect(await gatewaySide.load()).toBe(true);
      expect(await redis.zscore(key, 'within-skew')).not.toBeNull();
      expect(await redis.zscore(key, 'long-ended')).toBeNull();
      // Sharing a revocation purges too: a set kept alive by revocations does not grow without end.
      await redis.zadd(key, Date.now() - 120_000, 'ended-since');
      await gatewaySide.publish(['fresh'], new Date(Date.now() + 60_000));
      expect(await redis.zscore(key, 'ended-since')).toBeNull();
      expect(await redis.zscore(key, 'fresh')).not.toBeNull();
      await redis.del(key);
    } finally {
      await gatewaySide.close();
      await redis.quit();
    }
  });

  it('purges on sharing a revocation, too, only what ended longer ago than the clock skew', async () => {
    const prefix = `${gateway.config.rateLimit.prefix}:share-skew`;
    const redis = new Redis(redisUrl!);
    await redis.ping(); // connected first: the share below goes out at once, not on a later 'ready'
    const gatewaySide = new RedisRevocationFeed(redis, prefix, createLogger('silent'));
    try {
      const key = `${prefix}:revoked`;
      await gatewaySide.started();
      // Added after the feed loaded the set: only the share's own purge sees them.
      await redis.zadd(key, Date.now() - 30_000, 'within-skew', Date.now() - 120_000, 'long-ended');
      await gatewaySide.publish(['fresh'], new Date(Date.now() + 60_000));
      expect(await redis.zscore(key, 'within-skew')).not.toBeNull();
      expect(await redis.zscore(key, 'long-ended')).toBeNull();
      await redis.del(key);
    } finally {
      await gatewaySide.close();
      await redis.quit();
    }
  });

  it('starts without Redis, warning once however often it tries to connect', async () => {
    const lines: string[] = [];
    const logger = createLogger('warn', new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }));
    const started = Date.now();
    const feed = await createRevocationFeed({ redisUrl: `redis://127.0.0.1:${await freePort()}`, prefix: 'nowhere', logger });
    feeds.push(feed);
    expect(Date.now() - started).toBeLessThan(6000); // its 3 s wait for Redis, not a hang
    expect(feed.isRevoked(randomUUID())).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 1000)); // more attempts, no more lines
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/Redis unreachable/);
  });

  /** A Redis user name and password for one test (made by the test through `admin`), and its URL. */
  function redisUserOfItsOwn() {
    const password = randomUUID();
    const urlAs = (name: string) => {
      const url = new URL(redisUrl!);
      url.username = name;
      url.password = password;
      return url.toString();
    };
    return { admin: new Redis(redisUrl!), user: `subgraph-${randomUUID()}`, password, urlAs };
  }

  it("needs only read and subscribe rights on the gateway's keys, writes nothing, and warns when it cannot read", async () => {
    const prefix = gateway.config.rateLimit.prefix;
    const { admin, user, password, urlAs } = redisUserOfItsOwn();
    try {
      // What a subgraph's Redis user needs, as README gives it.
      await admin.call('ACL', 'SETUSER', user, 'on', `>${password}`, 'resetkeys', `%R~${prefix}:revoked`, 'resetchannels', `&${prefix}:revocations`, '-@all', '+zrangebyscore', '+subscribe', '+ping', '+info', '+select');
      await admin.call('ACL', 'SETUSER', `${user}-nothing`, 'on', `>${password}`, 'resetkeys', 'resetchannels', `&${prefix}:revocations`, '-@all', '+subscribe', '+ping', '+info', '+select');
      await admin.call('ACL', 'SETUSER', `${user}-nochannel`, 'on', `>${password}`, 'resetkeys', `%R~${prefix}:revoked`, 'resetchannels', '-@all', '+zrangebyscore', '+subscribe', '+ping', '+info', '+select');
      const ended = await signUp(gateway);
      await gateway.gql(LogoutDocument, { refreshToken: ended.refreshToken });
      const key = `${prefix}:revoked`;
      // An entry the gateway would purge: the subgraph's feed leaves it.
      await admin.zadd(key, Date.now() - 120_000, 'long-ended');
      const sidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sid as string;

      const lines: string[] = [];
      const logger = createLogger('warn', new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }));
      const readOnly = await createRevocationFeed({ redisUrl: urlAs(user), prefix, logger });
      feeds.push(readOnly);
      expect(readOnly.isRevoked(sidOf(ended.accessToken))).toBe(true);
      expect(await admin.zscore(key, 'long-ended')).not.toBeNull();
      expect(lines).toEqual([]);
      // Revocations after it started arrive on the channel.
      const later = await signUp(gateway);
      await gateway.gql(LogoutDocument, { refreshToken: later.refreshToken });
      const deadline = Date.now() + 1000;
      while (!readOnly.isRevoked(sidOf(later.accessToken)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(readOnly.isRevoked(sidOf(later.accessToken))).toBe(true);

      const blind = await createRevocationFeed({ redisUrl: urlAs(`${user}-nothing`), prefix, logger });
      feeds.push(blind);
      expect(blind.isRevoked(sidOf(ended.accessToken))).toBe(false);
      expect(lines.join('')).toMatch(/revoked sessions not loaded from Redis/);
      // Which refusal it was, by Redis's error kind (never the rest of its message).
      expect(JSON.parse(lines.at(-1)!).err).toEqual({ type: 'ReplyError', code: 'NOPERM' });
      // Allowed to read the set but not the channel: what was revoked before counts, and it says so.
      lines.length = 0;
      const deaf = await createRevocationFeed({ redisUrl: urlAs(`${user}-nochannel`), prefix, logger });
      feeds.push(deaf);
      expect(deaf.isRevoked(sidOf(ended.accessToken))).toBe(true);
      expect(lines.join('')).toMatch(/revocations not followed/);
      // A wrong password is told apart from an outage.
      lines.length = 0;
      const locked = await createRevocationFeed({ redisUrl: urlAs(`${user}-unknown`), prefix, logger });
      feeds.push(locked);
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ msg: expect.stringMatching(/Redis unreachable/), err: { type: 'ReplyError', code: 'WRONGPASS' } });
      await admin.zrem(key, 'long-ended');
    } finally {
      await admin.call('ACL', 'DELUSER', user, `${user}-nothing`, `${user}-nochannel`);
      await admin.quit();
    }
  });

  it('keeps its connections when its liveness PING is refused rather than unanswered (a user without +ping)', async () => {
    const prefix = gateway.config.rateLimit.prefix;
    const { admin, user, password, urlAs } = redisUserOfItsOwn();
    const connectionsOf = async () =>
      String(await admin.call('CLIENT', 'LIST'))
        .split('\n')
        .filter((line) => line.includes(` user=${user} `))
        .map((line) => /\bid=(\d+)/.exec(line)![1])
        .sort();
    try {
      await admin.call('ACL', 'SETUSER', user, 'on', `>${password}`, 'resetkeys', `%R~${prefix}:revoked`, 'resetchannels', `&${prefix}:revocations`, '-@all', '+zrangebyscore', '+subscribe', '+info', '+select');
      const lines: string[] = [];
      const logger = createLogger('warn', new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }));
      const feed = await createRevocationFeed({ redisUrl: urlAs(user), prefix, logger });
      feeds.push(feed);
      const before = await connectionsOf();
      expect(before).toHaveLength(2); // the one that loads the set, and the subscriber
      await new Promise((resolve) => setTimeout(resolve, 6000)); // past a liveness check (every 5 s)
      expect(await connectionsOf()).toEqual(before);
      expect(lines).toEqual([]);
    } finally {
      await admin.call('ACL', 'DELUSER', user);
      await admin.quit();
    }
  }, 20_000);

  it('survives losing its channel rights while subscribed, says so, and follows again once they are back', async () => {
    const prefix = gateway.config.rateLimit.prefix;
    const { admin, user, password, urlAs } = redisUserOfItsOwn();
    const channelRights = `&${prefix}:revocations`;
    const sidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sid as string;
    const revokedLater = async (feed: { isRevoked(sid: string): boolean }, withinMs: number) => {
      const later = await signUp(gateway);
      await gateway.gql(LogoutDocument, { refreshToken: later.refreshToken });
      const deadline = Date.now() + withinMs;
      while (!feed.isRevoked(sidOf(later.accessToken)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      return feed.isRevoked(sidOf(later.accessToken));
    };
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      await admin.call('ACL', 'SETUSER', user, 'on', `>${password}`, 'resetkeys', `%R~${prefix}:revoked`, 'resetchannels', channelRights, '-@all', '+zrangebyscore', '+subscribe', '+ping', '+info', '+select');
      const lines: string[] = [];
      const logger = createLogger('info', new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }));
      const feed = await createRevocationFeed({ redisUrl: urlAs(user), prefix, logger });
      feeds.push(feed);
      expect(await revokedLater(feed, 1000)).toBe(true);
      // Taken away: Redis drops the subscribed connection, which comes back and is refused the
      // channel. ioredis's own re-subscription was an unhandled rejection: the process ended.
      await admin.call('ACL', 'SETUSER', user, 'resetchannels');
      const deadline = Date.now() + 5000;
      while (!lines.join('').includes('revocations not followed') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(lines.join('')).toMatch(/revocations not followed/);
      expect(await revokedLater(feed, 500)).toBe(false);
      // Back: the liveness check subscribes again within its 5 s, and revocations arrive again.
      await admin.call('ACL', 'SETUSER', user, channelRights);
      expect(await revokedLater(feed, 8000)).toBe(true);
      expect(lines.join('')).toMatch(/revocations followed again/);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
      await admin.call('ACL', 'DELUSER', user);
      await admin.quit();
    }
  }, 30_000);
});
