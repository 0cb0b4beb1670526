// Rule: the subgraph listener answers only callers holding SUBGRAPH_SECRET, serves the Federation schema there and nowhere else, and shows a User's details (`_entities` included) only to that user or an admin.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config';
import { grantRole } from '../../src/domain/admin';
import { LoginDocument } from '../gql/graphql';
import { PASSWORD, signUp, uniqueEmail } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { rawExchange } from '../helpers/raw-http';

const SECRET = randomBytes(24).toString('base64'); // 32 characters
const UNKNOWN_UUID = '00000000-0000-4000-8000-000000000000';
const ENTITIES = `query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on User { id email roles } }
}`;

interface Reply {
  status: number;
  text: string;
  body: {
    data?: Record<string, unknown> | null;
    errors?: Array<{ message: string; extensions?: { code?: string } }>;
  };
}

let gw: TestGateway;
let target: Awaited<ReturnType<typeof signUp>>;
let other: Awaited<ReturnType<typeof signUp>>;
let adminToken: string;

/** A request to the subgraph listener; `secret: null` sends no x-subgraph-secret header. */
async function subgraph(
  body: unknown,
  options: { token?: string; secret?: string | null; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const secret = options.secret === undefined ? SECRET : options.secret;
  const response = await fetch(`${gw.subgraphUrl}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(secret !== null && { 'x-subgraph-secret': secret }),
      ...(options.token && { authorization: `Bearer ${options.token}` }),
      ...options.headers,
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as Reply['body'] };
}

async function publicRequest(body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const response = await gw.post(body, { headers });
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as Reply['body'] };
}

const codes = (reply: Reply) => (reply.body.errors ?? []).map((e) => e.extensions?.code);

async function loginToken(email: string) {
  const result = await gw.gql(LoginDocument, { email, password: PASSWORD });
  if (result.data?.login.__typename !== 'AuthPayload') throw new Error('expected an AuthPayload');
  return result.data.login.accessToken;
}

beforeAll(async () => {
  gw = await startGateway({ env: { SUBGRAPH_PORT: '0', SUBGRAPH_SECRET: SECRET } });
  expect(gw.subgraphUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  target = await signUp(gw, uniqueEmail('target'));
  other = await signUp(gw, uniqueEmail('other'));
  const admin = await signUp(gw, uniqueEmail('admin'));
  // The role reaches tokens at the next login.
  await grantRole(gw.deps, admin.email, 'admin');
  adminToken = await loginToken(admin.email);
});
afterAll(() => gw?.close());

describe('the shared secret', () => {
  it('refuses a request without x-subgraph-secret: 403 FORBIDDEN, no data', async () => {
    const reply = await subgraph({ query: '{ _service { sdl } }' }, { secret: null });
    expect(reply.status).toBe(403);
    expect(codes(reply)).toEqual(['FORBIDDEN']);
    expect(reply.body.data).toBeUndefined();
    expect(reply.text).not.toContain('@key');
  });

  it('answers another method than GET and POST 405 given the secret (403 without it)', async () => {
    const put = (secret: Record<string, string>) => fetch(`${gw.subgraphUrl}/graphql`, { method: 'PUT', headers: { 'content-type': 'application/json', ...secret }, body: '{"query":"{ __typename }"}' });
    const allowed = await put({ 'x-subgraph-secret': SECRET });
    expect(allowed.status).toBe(405);
    expect(allowed.headers.get('allow')).toBe('GET, HEAD, POST');
    expect(((await allowed.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe('BAD_REQUEST');
    expect((await put({})).status).toBe(403);
    // A method Fastify does not route at all: the same, not 404.
    const trace = await rawExchange(gw.subgraphUrl!, `TRACE /graphql HTTP/1.1\r\nHost: x\r\nx-subgraph-secret: ${SECRET}\r\nConnection: close\r\n\r\n`);
    expect(trace.split('\r\n')[0]).toBe('HTTP/1.1 405 Method Not Allowed');
    expect(trace).toMatch(/\r\nallow: GET, HEAD, POST\r\n/);
  });

  it('refuses a wrong secret (same length, shorter, longer, empty): 403 FORBIDDEN, no data', async () => {
    const wrong = [
      randomBytes(24).toString('base64'),
      SECRET.slice(0, -1),
      `${SECRET}x`,
      SECRET.toLowerCase() === SECRET ? SECRET.toUpperCase() : SECRET.toLowerCase(),
      '',
    ];
    for (const secret of wrong) {
      const reply = await subgraph({ query: '{ _service { sdl } }' }, { secret });
      expect(reply.status, `secret ${JSON.stringify(secret)}`).toBe(403);
      expect(codes(reply)).toEqual(['FORBIDDEN']);
      expect(reply.body.data).toBeUndefined();
    }
  });

  it('refuses before anything runs: a login without the secret signs nobody in', async () => {
    const reply = await subgraph(
      { query: 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { __typename } }', variables: { e: target.email, p: PASSWORD } },
      { secret: null },
    );
    expect(reply.status).toBe(403);
    expect(codes(reply)).toEqual(['FORBIDDEN']);
    expect(reply.text).not.toContain('accessToken');
  });

  it('with the secret, answers `_service { sdl }` with the Federation SDL', async () => {
    const reply = await subgraph({ query: '{ _service { sdl } }' });
    expect(reply.status).toBe(200);
    expect(reply.body.errors).toBeUndefined();
    const sdl = (reply.body.data as { _service: { sdl: string } })._service.sdl;
    expect(sdl).toContain('@key(fields: "id")');
    expect(sdl).toContain('@requiresScopes');
    expect(sdl).toContain('@authenticated');
  });
});

describe('the public /graphql stays schema.graphql', () => {
  it('sends no inline trace (resolver timings) to a router that asks for one', async () => {
    const reply = await subgraph(
      {
        query: 'mutation($email: String!, $password: String!) { login(email: $email, password: $password) { __typename } }',
        variables: { email: target.email, password: 'Wrong-Password-1!' },
      },
      { headers: { 'apollo-federation-include-trace': 'ftv1' } },
    );
    expect(codes(reply)).toEqual(['INVALID_CREDENTIALS']);
    expect(reply.text).not.toContain('ftv1');
  });

  it('refuses `_service` and `_entities` with GRAPHQL_VALIDATION_FAILED, even given the secret', async () => {
    const variants: Array<Record<string, string>> = [{}, { 'x-subgraph-secret': SECRET }];
    for (const headers of variants) {
      const service = await publicRequest({ query: '{ _service { sdl } }' }, headers);
      expect(codes(service)[0]).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(service.body.data).toBeUndefined();

      const entities = await publicRequest({ query: ENTITIES, variables: { representations: [{ __typename: 'User', id: target.user.id }] } }, headers);
      expect(codes(entities)[0]).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(entities.body.data).toBeUndefined();
      expect(entities.text).not.toContain(target.email);
    }
  });
});

describe('_entities: a User is visible only to that user or an admin', () => {
  const lookup = (id: string, token?: string) => subgraph({ query: ENTITIES, variables: { representations: [{ __typename: 'User', id }] } }, { token });

  it('answers an anonymous lookup UNAUTHENTICATED and never reveals the email', async () => {
    const reply = await lookup(target.user.id);
    expect(reply.status).toBe(200);
    expect(codes(reply)[0]).toBe('UNAUTHENTICATED');
    expect(codes(reply).every((code) => code === 'UNAUTHENTICATED')).toBe(true);
    expect(reply.body.data).toEqual({ _entities: [null] });
    expect(reply.text).not.toContain(target.email);
  });

  it("answers another plain user's lookup FORBIDDEN and never reveals the email", async () => {
    const reply = await lookup(target.user.id, other.accessToken);
    expect(reply.status).toBe(200);
    expect(codes(reply)[0]).toBe('FORBIDDEN');
    expect(codes(reply).every((code) => code === 'FORBIDDEN')).toBe(true);
    expect(reply.body.data).toEqual({ _entities: [null] });
    expect(reply.text).not.toContain(target.email);
  });

  it("refuses every field but id, each asked alone beside id, to another plain user (FORBIDDEN) and anonymously (UNAUTHENTICATED): no error of another field hides a leak", async () => {
    const introspection = await subgraph({ query: '{ __type(name: "User") { fields { name } } }' }, { token: other.accessToken });
    expect(introspection.body.errors).toBeUndefined();
    const { fields } = (introspection.body.data as { __type: { fields: Array<{ name: string }> } }).__type;
    const guarded = fields.map((field) => field.name).filter((name) => name !== 'id');
    expect(guarded).toEqual(expect.arrayContaining(['createdAt', 'email', 'mfaEnabled', 'roles']));

    const variables = { representations: [{ __typename: 'User', id: target.user.id }] };
    const one = (field: string) => `query Entities($representations: [_Any!]!) {
      _entities(representations: $representations) { ... on User { id ${field} } }
    }`;
    // The target sees each field: the lookup itself resolves.
    for (const field of guarded) {
      const own = await subgraph({ query: one(field), variables }, { token: target.accessToken });
      expect(own.body.errors, field).toBeUndefined();
      expect((own.body.data as { _entities: Array<Record<string, unknown>> })._entities[0], field).toHaveProperty(field);
    }
    for (const field of guarded) {
      const asOther = await subgraph({ query: one(field), variables }, { token: other.accessToken });
      expect(codes(asOther), `${field} as another user`).toEqual(['FORBIDDEN']);
      expect(asOther.body.data, `${field} as another user`).toEqual({ _entities: [null] });

      const anonymous = await subgraph({ query: one(field), variables });
      expect(codes(anonymous), `${field} anonymously`).toEqual(['UNAUTHENTICATED']);
      expect(anonymous.body.data, `${field} anonymously`).toEqual({ _entities: [null] });
    }
  });

  it('shows the user their own details', async () => {
    const reply = await lookup(target.user.id, target.accessToken);
    expect(reply.body.errors).toBeUndefined();
    expect(reply.body.data).toEqual({ _entities: [{ id: target.user.id, email: target.email, roles: ['user'] }] });
  });

  it('shows an admin the details', async () => {
    const reply = await lookup(target.user.id, adminToken);
    expect(reply.body.errors).toBeUndefined();
    expect(reply.body.data).toEqual({ _entities: [{ id: target.user.id, email: target.email, roles: ['user'] }] });
  });

  it('refuses representations that are not a User with a string id, alone or beside a good one: BAD_USER_INPUT, no error logged', async () => {
    const logged = gw.logs.length;
    const good = { __typename: 'User', id: target.user.id };
    for (const representation of [
      { __typename: 'Nope', id: target.user.id },
      { id: target.user.id },
      { __typename: 'User' },
      { __typename: 'User', id: [target.user.id] },
      { __typename: 'User', id: 5 },
    ]) {
      for (const representations of [[representation], [good, representation]]) {
        const reply = await subgraph({ query: ENTITIES, variables: { representations } }, { token: adminToken });
        const label = JSON.stringify(representations);
        expect(reply.status, label).toBe(200);
        expect(codes(reply), label).toEqual(['BAD_USER_INPUT']);
        expect(reply.body.data, label).toBeNull();
      }
    }
    expect(gw.logs.slice(logged).filter((line) => JSON.parse(line).level >= 50)).toEqual([]);
  });

  it('answers a non-UUID id and an unknown UUID with a null entity, not an internal error', async () => {
    for (const id of ['not-a-uuid', UNKNOWN_UUID, "'; select 1; --"]) {
      for (const token of [undefined, adminToken]) {
        const reply = await lookup(id, token);
        expect(reply.status, id).toBe(200);
        expect(codes(reply), id).not.toContain('INTERNAL_SERVER_ERROR');
        expect(reply.body.errors, id).toBeUndefined();
        expect(reply.body.data, id).toEqual({ _entities: [null] });
      }
    }
  });

  /** Counts the user store's batch lookups while `work` runs. */
  async function countingLookups(work: () => Promise<void>) {
    const findByIds = gw.deps.users.findByIds.bind(gw.deps.users);
    const asked: string[][] = [];
    gw.deps.users.findByIds = (ids) => {
      asked.push([...ids]);
      return findByIds(ids);
    };
    try {
      await work();
    } finally {
      gw.deps.users.findByIds = findByIds;
    }
    return asked;
  }

  it('looks the users of a request up in one statement, each once, however often the representations name them (aliases repeating one variable included)', async () => {
    const asked = await countingLookups(async () => {
      const aliases = Array.from({ length: 5 }, (_, i) => `e${i}: _entities(representations: $r) { ... on User { id email } }`).join(' ');
      const r = [
        ...Array(100).fill({ __typename: 'User', id: target.user.id }),
        { __typename: 'User', id: target.user.id.toUpperCase() },
        { __typename: 'User', id: UNKNOWN_UUID },
        { __typename: 'User', id: 'not-a-uuid' },
      ];
      const reply = await subgraph({ query: `query($r: [_Any!]!) { ${aliases} }`, variables: { r } }, { token: adminToken });
      expect(reply.body.errors).toBeUndefined();
      const e4 = (reply.body.data as Record<string, Array<{ id: string; email: string } | null>>).e4!;
      expect(e4).toHaveLength(103);
      expect(e4[0]).toEqual({ id: target.user.id, email: target.email });
      expect(e4[100]).toEqual({ id: target.user.id, email: target.email });
      expect(e4.slice(101)).toEqual([null, null]);
    });
    // One statement for the lot; an id that is no UUID is not asked for.
    expect(asked).toEqual([[target.user.id, UNKNOWN_UUID]]);
  });

  it('refuses more than 1,000 representations in one request, over all its `_entities` fields: BAD_USER_INPUT, nobody looked up', async () => {
    const r = Array.from({ length: 600 }, () => ({ __typename: 'User', id: target.user.id }));
    const one = await subgraph({ query: 'query($r: [_Any!]!) { _entities(representations: $r) { __typename } }', variables: { r } });
    expect(one.body.errors).toBeUndefined();
    let two: Awaited<ReturnType<typeof subgraph>> | undefined;
    const asked = await countingLookups(async () => {
      two = await subgraph({ query: 'query($r: [_Any!]!) { a: _entities(representations: $r) { __typename } b: _entities(representations: $r) { __typename } }', variables: { r } });
    });
    expect(codes(two!)).toEqual(['BAD_USER_INPUT']);
    expect(two!.body.errors![0]!.message).toBe('At most 1000 representations per request, over all its _entities fields.');
    expect(two!.body.data).toBeNull();
    expect(asked).toEqual([]);
  });

  it('looks nobody up when any `_entities` field of the request is refused, whatever the fields before it queued', async () => {
    const asked = await countingLookups(async () => {
      const reply = await subgraph({
        query: 'query($v: [_Any!]!, $b: [_Any!]!) { a: _entities(representations: $v) { __typename } b: _entities(representations: $b) { __typename } }',
        variables: { v: [{ __typename: 'User', id: target.user.id }], b: [{ __typename: 'Product', id: 'x' }] },
      });
      expect(codes(reply)).toEqual(['BAD_USER_INPUT']);
      expect(reply.body.data).toBeNull();
    });
    expect(asked).toEqual([]);
  });
});

describe('the public operations through the listener keep the User rule', () => {
  it("shows a login's own payload to the request that signs the user in", async () => {
    const reply = await subgraph({
      query: `mutation($email: String!, $password: String!) {
        login(email: $email, password: $password) { ... on AuthPayload { accessToken user { id email } } }
      }`,
      variables: { email: target.email, password: PASSWORD },
    });
    expect(reply.body.errors).toBeUndefined();
    const login = (reply.body.data as { login: { accessToken: string; user: { id: string; email: string } } }).login;
    expect(login.user).toEqual({ id: target.user.id, email: target.email });

    const me = await subgraph({ query: '{ me { id email } }' }, { token: login.accessToken });
    expect(me.body.errors).toBeUndefined();
    expect(me.body.data).toEqual({ me: { id: target.user.id, email: target.email } });
  });

  it('answers `me` anonymously with UNAUTHENTICATED', async () => {
    const reply = await subgraph({ query: '{ me { email } }' });
    expect(codes(reply)[0]).toBe('UNAUTHENTICATED');
  });

  it('lists users with their emails to an admin, FORBIDDEN to a plain user, UNAUTHENTICATED anonymously', async () => {
    const asAdmin = await subgraph({ query: '{ users(limit: 100) { id email } }' }, { token: adminToken });
    expect(asAdmin.body.errors).toBeUndefined();
    const listed = (asAdmin.body.data as { users: Array<{ id: string; email: string }> }).users;
    expect(listed).toEqual(expect.arrayContaining([{ id: target.user.id, email: target.email }, { id: other.user.id, email: other.email }]));

    const asPlain = await subgraph({ query: '{ users(limit: 100) { id email } }' }, { token: other.accessToken });
    expect(codes(asPlain)[0]).toBe('FORBIDDEN');
    expect(asPlain.body.data).toBeNull();
    expect(asPlain.text).not.toContain(target.email);

    const anonymous = await subgraph({ query: '{ users(limit: 100) { id email } }' });
    expect(codes(anonymous)[0]).toBe('UNAUTHENTICATED');
    expect(anonymous.text).not.toContain(target.email);
  });
});

describe('configuration', () => {
  const refusal = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).message;
    }
    throw new Error(`expected ${JSON.stringify(env)} to be refused`);
  };

  it('refuses SUBGRAPH_PORT without SUBGRAPH_SECRET, or with one shorter than 32 characters', () => {
    expect(refusal({ SUBGRAPH_PORT: '4001' })).toContain('SUBGRAPH_SECRET');
    expect(refusal({ SUBGRAPH_PORT: '4001', SUBGRAPH_SECRET: '' })).toContain('SUBGRAPH_SECRET');
    expect(refusal({ SUBGRAPH_PORT: '4001', SUBGRAPH_SECRET: 'x'.repeat(31) })).toContain('SUBGRAPH_SECRET');
  });

  it('accepts a 32-character secret, listens on HOST unless SUBGRAPH_HOST says otherwise, and leaves the listener off when SUBGRAPH_PORT is unset', () => {
    const secret = 'xy'.repeat(16);
    expect(loadConfig({ SUBGRAPH_PORT: '4001', SUBGRAPH_SECRET: secret }).subgraph).toEqual({ port: 4001, host: '127.0.0.1', secret, trustProxy: false });
    expect(loadConfig({ SUBGRAPH_PORT: '4001', SUBGRAPH_SECRET: secret, HOST: '0.0.0.0' }).subgraph?.host).toBe('0.0.0.0');
    expect(loadConfig({ SUBGRAPH_PORT: '4001', SUBGRAPH_SECRET: secret, HOST: '0.0.0.0', SUBGRAPH_HOST: '10.0.0.5' }).subgraph?.host).toBe('10.0.0.5');
    expect(loadConfig({}).subgraph).toBeUndefined();
    expect(loadConfig({ SUBGRAPH_SECRET: secret }).subgraph).toBeUndefined();
  });
});
