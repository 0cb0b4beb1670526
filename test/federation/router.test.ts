// Rule: through a router, the example subgraph trusts the gateway's tokens via the kit alone: it applies roles, refuses forged/expired/foreign/revoked tokens itself, follows key rotation without restart, starts while the gateway is down, and a User's details stay with that user or an admin.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantRole } from '../../src/domain/admin';
import { rotateSigningKey, signAccessToken } from '../../src/domain/tokens';
import { SUBGRAPH_SECRET_HEADER } from '../../src/http/subgraph-app';
import { PostgresSigningKeyStore } from '../../src/storage/postgres';
import { codeOf, PASSWORD, recordingAudit, uniqueEmail } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { tamper } from '../helpers/jwt-forgery';
import { childEnv, freePort, ROOT, spawnTsx, type Child } from '../helpers/processes';
import { startRouter, type Router } from '../helpers/supergraph';

interface Result {
  data?: Record<string, any> | null;
  errors?: Array<{ message: string; extensions: { code: string }; path?: Array<string | number> }>;
}

async function gqlTo(url: string, query: string, variables: Record<string, unknown> = {}, token?: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }), ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  return { status: response.status, text, ...(JSON.parse(text) as Result) };
}

const SECRET = randomBytes(24).toString('base64url');
const WHOAMI = '{ whoami { userId sessionId roles amr } }';
const SET_COST = 'mutation ($id: ID!, $cost: Int!) { setProductCost(id: $id, cost: $cost) { id cost } }';

let gatewayPort: number;
// The gateway's RATE_LIMIT_PREFIX is also the namespace of its revocation set and channel.
const rateLimitPrefix = `test:${randomBytes(6).toString('hex')}`;
let products: Child;
let productsUrl: string;
let gw: TestGateway | undefined;
let router: Router;
const ask = (query: string, variables?: Record<string, unknown>, token?: string) => gqlTo(router.url, query, variables, token);

async function signIn(email: string) {
  const login = await ask(
    'mutation ($email: String!, $password: String!) { login(email: $email, password: $password) { ... on AuthPayload { accessToken user { id email } } } }',
    { email, password: PASSWORD },
  );
  expect(login.errors).toBeUndefined();
  return login.data!.login as { accessToken: string; user: { id: string; email: string } };
}

async function newUser(prefix: string) {
  const email = uniqueEmail(prefix);
  const registered = await ask('mutation ($email: String!, $password: String!) { register(email: $email, password: $password) }', {
    email,
    password: PASSWORD,
  });
  expect(registered.errors).toBeUndefined();
  return signIn(email);
}

beforeAll(async () => {
  gatewayPort = await freePort();
  const issuer = `http://127.0.0.1:${gatewayPort}`;
  const productsPort = await freePort();
  // The subgraph comes up first, while nothing answers at the issuer.
  products = spawnTsx(
    'examples/products/server.ts',
    [],
    childEnv({
      GATEWAY_ISSUER: issuer,
      PORT: String(productsPort),
      KEY_REFETCH_COOLDOWN: '1',
      ...(process.env.REDIS_URL && { REDIS_URL: process.env.REDIS_URL, REVOCATION_PREFIX: rateLimitPrefix }),
    }),
  );
  await products.waitFor(/products subgraph ready/, 20_000);
  productsUrl = `http://127.0.0.1:${productsPort}/`;
}, 60_000);

afterAll(async () => {
  await router?.stop();
  products?.process.kill('SIGTERM');
  await products?.exited;
  await gw?.close();
});

describe('a subgraph started before the gateway', () => {
  it('runs, and answers UNAUTHENTICATED while it cannot fetch the keys', async () => {
    const result = await gqlTo(productsUrl, WHOAMI, {}, 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln');
    expect(codeOf(result)).toBe('UNAUTHENTICATED');
    expect(products.process.exitCode).toBeNull();
  });

  it('answers SERVICE_UNAVAILABLE, not UNAUTHENTICATED, for a token that could pass once it has the keys; unguarded fields answer', async () => {
    const issuer = `http://127.0.0.1:${gatewayPort}`;
    const token = await new SignJWT({ sid: 's1', roles: ['user'], amr: ['pwd'] })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer(issuer)
      .setAudience('graphql')
      .setSubject('u1')
      .setJti('j1')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign((await generateKeyPair('ES256')).privateKey);
    const result = await gqlTo(productsUrl, WHOAMI, {}, token);
    expect(codeOf(result)).toBe('SERVICE_UNAVAILABLE');
    expect(result.errors![0]).toMatchObject({ path: ['whoami'], extensions: { retryAfter: 1 } });
    const sdl = await gqlTo(productsUrl, '{ _service { sdl } }', {}, token);
    expect(sdl.errors).toBeUndefined();
    expect(sdl.data!._service.sdl).toContain('type Product');
  });

  it('sends no stack trace and no inline trace, even to a router that asks for one', async () => {
    const result = await gqlTo(productsUrl, WHOAMI, {}, undefined, { 'apollo-federation-include-trace': 'ftv1' });
    expect(codeOf(result)).toBe('UNAUTHENTICATED');
    expect(result.text).not.toContain('stacktrace');
    expect(result.text).not.toContain('ftv1');
  });
});

describe('through the router', () => {
  let owner: Awaited<ReturnType<typeof newUser>>;
  let other: Awaited<ReturnType<typeof newUser>>;
  let admin: Awaited<ReturnType<typeof newUser>>;
  let productId: string;

  beforeAll(async () => {
    gw = await startGateway({
      env: {
        PORT: String(gatewayPort),
        JWT_ISSUER: `http://127.0.0.1:${gatewayPort}`,
        SUBGRAPH_PORT: '0',
        SUBGRAPH_SECRET: SECRET,
        RATE_LIMIT_PREFIX: rateLimitPrefix,
      },
    });
    // The router learns the gateway's SDL from the listener itself, as a composition tool would.
    const service = await gqlTo(`${gw.subgraphUrl}/graphql`, '{ _service { sdl } }', {}, undefined, { [SUBGRAPH_SECRET_HEADER]: SECRET });
    const gatewaySdl = service.data!._service.sdl as string;
    expect(gatewaySdl).toContain('@requiresScopes');
    router = await startRouter([
      { name: 'auth', url: `${gw.subgraphUrl}/graphql`, sdl: gatewaySdl, headers: { [SUBGRAPH_SECRET_HEADER]: SECRET } },
      { name: 'products', url: productsUrl, sdl: readFileSync(path.join(ROOT, 'examples/products/schema.graphql'), 'utf8') },
    ]);
    owner = await newUser('owner');
    other = await newUser('other');
    const adminUser = await newUser('admin');
    await grantRole(gw.deps, adminUser.user.email, 'admin');
    admin = await signIn(adminUser.user.email);
    // The subgraph's last discovery failed (the gateway was down): it asks again a second later
    // at the earliest, and meanwhile answers at once. Within a few seconds it has the keys.
    const deadline = Date.now() + 5000;
    let whoami = await gqlTo(productsUrl, WHOAMI, {}, owner.accessToken);
    while (whoami.errors && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      whoami = await gqlTo(productsUrl, WHOAMI, {}, owner.accessToken);
    }
    expect(whoami.errors).toBeUndefined();
    const added = await ask('mutation { addProduct(name: "Lamp", price: 1999) { id owner { id } } }', {}, owner.accessToken);
    expect(added.errors).toBeUndefined();
    productId = added.data!.addProduct.id;
    expect(added.data!.addProduct.owner.id).toBe(owner.user.id);
    const costed = await ask(SET_COST, { id: productId, cost: 700 }, admin.accessToken);
    expect(costed.errors).toBeUndefined();
    expect(costed.data!.setProductCost).toEqual({ id: productId, cost: 700 });
  }, 60_000);

  it('logs in through the gateway subgraph, and the example subgraph accepts the token', async () => {
    const result = await ask(WHOAMI, {}, owner.accessToken);
    expect(result.errors).toBeUndefined();
    expect(result.data!.whoami).toMatchObject({ userId: owner.user.id, roles: ['user'], amr: ['pwd'] });
  });

  it('applies roles: cost is FORBIDDEN to a user and visible to an admin', async () => {
    const asUser = await ask('{ products { id cost } }', {}, other.accessToken);
    expect(codeOf(asUser)).toBe('FORBIDDEN');
    expect(asUser.errors![0]!.path).toEqual(['products', 0, 'cost']);
    expect(asUser.data!.products[0].cost).toBeNull();
    const asAdmin = await ask('{ products { id cost } }', {}, admin.accessToken);
    expect(asAdmin.errors).toBeUndefined();
    expect(asAdmin.data!.products.find((p: { id: string }) => p.id === productId).cost).toBe(700);
  });

  it('lets only an admin write cost, as only an admin reads it: addProduct takes none', async () => {
    for (const caller of [owner, other]) {
      const refused = await ask(SET_COST, { id: productId, cost: 1 }, caller.accessToken);
      expect(codeOf(refused)).toBe('FORBIDDEN');
    }
    const withCost = await ask('mutation { addProduct(name: "Cheap", price: 1, cost: 2) { id } }', {}, owner.accessToken);
    expect(codeOf(withCost)).toBe('GRAPHQL_VALIDATION_FAILED');
    const asAdmin = await ask('{ products { id cost } }', {}, admin.accessToken);
    expect(asAdmin.data!.products.find((p: { id: string }) => p.id === productId).cost).toBe(700);
  });

  it('keeps _entities, which reaches a Product without products, to signed-in callers: the guard is on the type', async () => {
    const entities = 'query ($r: [_Any!]!) { _entities(representations: $r) { ... on Product { name } } }';
    const representations = { r: [{ __typename: 'Product', id: productId }] };
    const anonymous = await gqlTo(productsUrl, entities, representations);
    expect(codeOf(anonymous)).toBe('UNAUTHENTICATED');
    expect(anonymous.text).not.toContain('Lamp');
    const signedIn = await gqlTo(productsUrl, entities, representations, other.accessToken);
    expect(signedIn.errors).toBeUndefined();
    expect(signedIn.data!._entities).toEqual([{ name: 'Lamp' }]);
  });

  it('shows owner { email } only to that owner or an admin', async () => {
    const query = '{ products { id owner { id email } } }';
    const mine = await ask(query, {}, owner.accessToken);
    expect(mine.errors).toBeUndefined();
    expect(mine.data!.products[0].owner).toEqual({ id: owner.user.id, email: owner.user.email });

    const theirs = await ask(query, {}, other.accessToken);
    expect(codeOf(theirs)).toBe('FORBIDDEN');
    expect(theirs.text).not.toContain(owner.user.email);

    const asAdmin = await ask(query, {}, admin.accessToken);
    expect(asAdmin.errors).toBeUndefined();
    expect(asAdmin.data!.products[0].owner.email).toBe(owner.user.email);
  });

  it('refuses forged, expired and wrong-audience tokens at the subgraph itself', async () => {
    const deps = gw!.deps;
    const subject = { userId: owner.user.id, sessionId: '00000000-0000-4000-8000-000000000000', roles: ['user', 'admin'], amr: ['pwd'] };
    const forged = tamper(owner.accessToken, { payload: { roles: ['user', 'admin'] } });
    const sessionEndsAt = new Date(Date.now() + 86_400_000);
    const expired = await signAccessToken(deps.keys, deps.settings.jwt, new Date(Date.now() - 2 * 3600_000), subject, sessionEndsAt);
    const foreign = await signAccessToken(deps.keys, { ...deps.settings.jwt, audience: 'another-api' }, new Date(), subject, sessionEndsAt);
    for (const token of [forged, expired.token, foreign.token]) {
      const result = await ask('{ products { id } }', {}, token);
      expect(codeOf(result)).toBe('UNAUTHENTICATED');
      expect(result.errors![0]!.path).toEqual(['products']);
    }
  });

  it.skipIf(!process.env.REDIS_URL)('refuses a revoked session at the subgraph at once (revocation feed; needs REDIS_URL)', async () => {
    const session = await newUser('revoked');
    expect((await ask(WHOAMI, {}, session.accessToken)).errors).toBeUndefined();
    const loggedOut = await ask('mutation { logoutAll }', {}, session.accessToken);
    expect(loggedOut.errors).toBeUndefined();
    // Published on the channel; the subgraph's in-memory set follows within milliseconds.
    let code: string | undefined;
    for (let i = 0; i < 50 && code !== 'UNAUTHENTICATED'; i++) {
      code = codeOf(await ask(WHOAMI, {}, session.accessToken));
      if (code !== 'UNAUTHENTICATED') await new Promise((r) => setTimeout(r, 20));
    }
    expect(code).toBe('UNAUTHENTICATED');
  });

  it('verifies tokens of a rotated key without restarting the subgraph', async () => {
    const deps = gw!.deps;
    const oldKid = decodeProtectedHeader(owner.accessToken).kid;
    const { publishAhead } = gw!.config.keys;
    const rotated = await rotateSigningKey(
      { signingKeys: new PostgresSigningKeyStore(gw!.database.db), box: deps.box, clock: gw!.clock, audit: recordingAudit().audit },
      { alg: gw!.config.jwt.alg, publishAhead, accessTokenTtl: gw!.config.jwt.accessTokenTtl, reloadSeconds: gw!.config.keys.reloadSeconds },
    );
    gw!.clock.advance(publishAhead + 1);
    await gw!.reloadKeys();
    // Back to the subgraph's time (a ring loaded after the switch holds only the new key): it refuses tokens issued in its future.
    gw!.clock.advance(-(publishAhead + 1));
    const fresh = await signIn(owner.user.email);
    expect(decodeProtectedHeader(fresh.accessToken).kid).toBe(rotated.kid);
    expect(rotated.kid).not.toBe(oldKid);
    await new Promise((r) => setTimeout(r, 1100)); // the subgraph's refetch cooldown (1 s here)
    const result = await ask(WHOAMI, {}, fresh.accessToken);
    expect(result.errors).toBeUndefined();
    expect(result.data!.whoami.userId).toBe(owner.user.id);
  });
});
