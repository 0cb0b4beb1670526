// Rule: the HTTP surface refuses CSRF-able requests, batches, mutations over GET and bodies over
// 100 KB; production hides the schema; no error leaks a stack; CORS only for configured origins;
// no answer may be stored by a cache but the JWKS, the discovery document and the playground's files.
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { getNamedType, GraphQLObjectType, GraphQLScalarType, print } from 'graphql';
import { subgraphSchema } from '../../src/graphql/federation/subgraph-schema';
import { gatewaySchema } from '../../src/graphql/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginDocument, RegisterDocument, SchemaRootDocument, TypeByNameDocument } from '../gql/graphql';
import { codeOf, PASSWORD, uniqueEmail } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { rawExchange } from '../helpers/raw-http';

const APP = 'http://app.example';
const SUBGRAPH_SECRET = 'the-routers-secret-'.repeat(2);
let dev: TestGateway;
let prod: TestGateway;
beforeAll(async () => {
  dev = await startGateway();
  // The harness passes its own database; DATABASE_URL is there for the production config check.
  prod = await startGateway({
    env: {
      NODE_ENV: 'production',
      JWT_ISSUER: 'https://auth.example.test',
      DATABASE_URL: 'postgres://unused@127.0.0.1/unused',
      CORS_ORIGINS: APP,
      SUBGRAPH_PORT: '0',
      SUBGRAPH_SECRET: SUBGRAPH_SECRET,
    },
  });
});
afterAll(async () => {
  await dev?.close();
  await prod?.close();
});

/** An error response: the status, one registry code, no data, nothing stack-like. */
async function refused(response: Response, status: number, code: string) {
  const text = await response.text();
  expect(text).not.toMatch(/stacktrace|exception/i);
  expect(response.status).toBe(status);
  const body = JSON.parse(text) as { data?: unknown; errors: Array<{ message: string; extensions: { code: string } }> };
  expect(body.data ?? null).toBeNull();
  expect(body.errors[0]!.extensions.code).toBe(code);
  return body.errors[0]!;
}

const get = (gw: TestGateway, query: string, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}/graphql?query=${encodeURIComponent(query)}`, { headers });

const registerBody = (email: string) => ({ query: print(RegisterDocument), variables: { email, password: PASSWORD } });

async function neverRegistered(email: string) {
  expect(codeOf(await dev.gql(LoginDocument, { email, password: PASSWORD }))).toBe('INVALID_CREDENTIALS');
}

describe('CSRF prevention', () => {
  it('refuses the bodies a cross-site form or simple request can send, with 415 and without running them', async () => {
    const email = uniqueEmail('csrf');
    const postAs = (contentType: string, headers: Record<string, string> = {}) =>
      fetch(`${dev.url}/graphql`, { method: 'POST', headers: { 'content-type': contentType, ...headers }, body: JSON.stringify(registerBody(email)) });
    // None of them reaches Apollo: Fastify has no parser for them. A text/plain body is refused
    // the same way whether or not a preflight-forcing header comes with it.
    for (const contentType of ['text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const refusal = await refused(await postAs(contentType), 415, 'BAD_REQUEST');
      expect(refusal.message).toBe('Unsupported content type: send content-type: application/json.');
    }
    await refused(await postAs('text/plain', { 'apollo-require-preflight': 'true' }), 415, 'BAD_REQUEST');
    await neverRegistered(email);
  });

  it('refuses a GET without a preflight-forcing header, and serves it with one', async () => {
    await refused(await get(dev, '{ __typename }'), 400, 'BAD_REQUEST');
    const allowed = await get(dev, '{ __typename }', { 'apollo-require-preflight': 'true' });
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('request shape', () => {
  it("refuses a form-encoded POST (curl's default) with 415, naming the content type to send", async () => {
    const email = uniqueEmail('form');
    const response = await fetch(`${dev.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: JSON.stringify(registerBody(email)),
    });
    expect(response.status).toBe(415);
    expect(await response.json()).toEqual({
      errors: [{ message: 'Unsupported content type: send content-type: application/json.', extensions: { code: 'BAD_REQUEST' } }],
    });
    await neverRegistered(email);
  });

  it('takes JSON in UTF-8 only: bytes that are no UTF-8 are refused 400 (not read as U+FFFD), another charset 415, before anything runs', async () => {
    const postBytes = (body: Buffer, contentType = 'application/json') =>
      fetch(`${dev.url}/graphql`, { method: 'POST', headers: { 'content-type': contentType }, body });
    const registerBytes = (email: string, password: Buffer) =>
      Buffer.concat([
        Buffer.from(`{"query":${JSON.stringify(print(RegisterDocument))},"variables":{"email":${JSON.stringify(email)},"password":"`),
        password,
        Buffer.from('"}}'),
      ]);
    // A Latin-1 `ä` (0xE4), a stray 0xFF: neither is UTF-8.
    for (const bytes of [[0x50, 0xe4, 0x73, 0x73], [0x50, 0xff, 0x73, 0x73]]) {
      const email = uniqueEmail('latin1');
      const body = registerBytes(email, Buffer.concat([Buffer.from(bytes), Buffer.from(PASSWORD)]));
      expect(() => JSON.parse(body.toString('utf8'))).not.toThrow(); // as Fastify read it: valid JSON, with U+FFFD
      const error = await refused(await postBytes(body), 400, 'BAD_REQUEST');
      expect(error.message).toBe('Bad request: the body is not valid UTF-8.');
      await neverRegistered(email);
    }
    // Declared in another charset: refused whatever its bytes.
    const latin = uniqueEmail('charset');
    const declared = await refused(await postBytes(Buffer.from(JSON.stringify(registerBody(latin))), 'application/json; charset=iso-8859-1'), 415, 'BAD_REQUEST');
    expect(declared.message).toBe('Unsupported content type: JSON is UTF-8; send content-type: application/json.');
    await neverRegistered(latin);
    // UTF-8 however spelt, and real UTF-8 beyond ASCII, are taken; so are Fastify's checks.
    for (const contentType of ['application/json; charset=utf-8', 'application/json;charset="UTF8"']) {
      const email = uniqueEmail('utf8');
      const password = `Pässwort-${PASSWORD}`;
      const response = await postBytes(Buffer.from(JSON.stringify({ query: print(RegisterDocument), variables: { email, password } })), contentType);
      expect(((await response.json()) as { data?: { register?: boolean } }).data?.register, contentType).toBe(true);
      expect(codeOf(await dev.gql(LoginDocument, { email, password }))).toBeUndefined();
    }
    await refused(await postBytes(Buffer.from('{"query":"{ __typename }","__proto__":{"x":1}}')), 400, 'BAD_REQUEST');
  });

  it('refuses a batched (array) body without running any of it', async () => {
    const email = uniqueEmail('batch');
    await refused(await dev.post([registerBody(email), registerBody(email)]), 400, 'BAD_REQUEST');
    await neverRegistered(email);
  });

  it('refuses a mutation over GET with 405', async () => {
    const response = await get(dev, 'mutation { logout }', { 'apollo-require-preflight': 'true' });
    await refused(response, 405, 'BAD_REQUEST');
    expect(response.headers.get('allow')).toBe('POST');
  });

  it('answers PUT, DELETE and PATCH /graphql 405, naming the methods it takes, without running the body', async () => {
    for (const method of ['PUT', 'DELETE', 'PATCH']) {
      const email = uniqueEmail('method');
      const response = await fetch(`${dev.url}/graphql`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(registerBody(email)) });
      const error = await refused(response, 405, 'BAD_REQUEST');
      expect(error.message).toBe('Method not allowed: send a POST (or a GET for a query).');
      expect(response.headers.get('allow')).toBe('GET, HEAD, POST, OPTIONS');
      await neverRegistered(email);
    }
    // Whatever the body: the method is what is wrong.
    for (const [contentType, body] of [['text/plain', 'hello'], ['application/json', '{not json']]) {
      const response = await fetch(`${dev.url}/graphql`, { method: 'PUT', headers: { 'content-type': contentType }, body });
      expect((await refused(response, 405, 'BAD_REQUEST')).message, contentType).toBe('Method not allowed: send a POST (or a GET for a query).');
    }
    // Elsewhere an unknown path stays 404.
    await refused(await fetch(`${dev.url}/graphq`, { method: 'PUT' }), 404, 'BAD_REQUEST');
  });

  it('answers any other method on /graphql 405 as well (TRACE, PROPFIND, SEARCH: methods Fastify does not route), an unknown path 404', async () => {
    const exchange = (method: string, target: string) => rawExchange(dev.url, `${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    for (const [method, target] of [['TRACE', '/graphql'], ['PROPFIND', '/graphql'], ['SEARCH', '/graphql?query=%7B__typename%7D']]) {
      const answer = await exchange(method!, target!);
      expect(answer.split('\r\n')[0], method).toBe('HTTP/1.1 405 Method Not Allowed');
      expect(answer, method).toMatch(/\r\nallow: GET, HEAD, POST, OPTIONS\r\n/);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
        errors: [{ message: 'Method not allowed: send a POST (or a GET for a query).', extensions: { code: 'BAD_REQUEST' } }],
      });
    }
    for (const target of ['/graphq', '/graphql/x']) expect((await exchange('TRACE', target)).split('\r\n')[0]).toBe('HTTP/1.1 404 Not Found');
  });

  it('answers HEAD /graphql as a GET that may not run (400 for CSRF, then 405), and a POST whose Accept takes no JSON 406', async () => {
    expect((await fetch(`${dev.url}/graphql`, { method: 'HEAD' })).status).toBe(400);
    const head = await fetch(`${dev.url}/graphql?query=%7B__typename%7D`, { method: 'HEAD', headers: { 'apollo-require-preflight': 'true' } });
    expect(head.status).toBe(405);
    for (const accept of ['text/event-stream', 'application/xml']) {
      const response = await fetch(`${dev.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      await refused(response, 406, 'BAD_REQUEST');
    }
  });

  it('refuses a body over 100 KB with 413 in the GraphQL error shape', async () => {
    const padded = (bytes: number) => ({ query: '{ __typename }', variables: { pad: 'a'.repeat(bytes) } });
    expect((await dev.post(padded(95_000))).status).toBe(200);
    const error = await refused(await dev.post(padded(101 * 1024)), 413, 'BAD_REQUEST');
    expect(error.message).toBe('Request body too large.');
  });

  it('gives a client 30 s to send a whole request, body included (cut within 30–35 s), not as long as it likes', { timeout: 45_000 }, async () => {
    const started = performance.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(prod.url).port), '127.0.0.1', () =>
        socket.write('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{'),
      );
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString('utf8')));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    const seconds = (performance.now() - started) / 1000;
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
    expect(seconds).toBeGreaterThanOrEqual(29.5);
    expect(seconds).toBeLessThan(40); // 35 s by Node's checks, and the scheduling around them on a busy machine
  });

  it('passes GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED and BAD_USER_INPUT through', async () => {
    for (const gw of [dev, prod]) {
      await refused(await gw.post({ query: '{ me ' }), 400, 'GRAPHQL_PARSE_FAILED');
      await refused(await gw.post({ query: '{ nope }' }), 400, 'GRAPHQL_VALIDATION_FAILED');
      const badVariable = { query: 'query ($l: Int) { users(limit: $l) { id } }', variables: { l: 'abc' } };
      await refused(await gw.post(badVariable), 400, 'BAD_USER_INPUT');
      await refused(await gw.post('{"query": '), 400, 'BAD_REQUEST');
    }
  });

  it('does not quote a variable it could not coerce: a secret sent in the wrong shape does not come back', async () => {
    for (const gw of [dev, prod]) {
      for (const password of [{ pw: 'Secret-In-An-Object-1' }, ['Secret-In-A-List-2'], 3.25]) {
        const response = await gw.post({ query: print(LoginDocument), variables: { email: uniqueEmail('shape'), password } });
        const text = await response.clone().text();
        expect(text).not.toMatch(/Secret-In|3\.25/);
        expect((await refused(response, 400, 'BAD_USER_INPUT')).message).toBe('Variable "$password" of type String! got an invalid value.');
      }
    }
  });

  it('does not quote a literal that does not fit its type or its place either: a secret written in the wrong shape does not come back', async () => {
    const cases = [
      ['login(email: "a@example.com", password: ["Secret-In-A-List-1"])', 'String cannot represent the value given.'],
      ['login(email: "a@example.com", password: { pw: "Secret-In-An-Object-2" })', 'String cannot represent the value given.'],
      ['login(email: "a@example.com", password: Secret_Unquoted_3)', 'String cannot represent the value given.'],
      ['refresh(refreshToken: 4.25e1)', 'String cannot represent the value given.'],
      ['login(email: "a@example.com", password: null)', 'Expected value of type "String!"; the value given does not fit.'],
    ] as const;
    for (const gw of [dev, prod]) {
      for (const [field, message] of cases) {
        const response = await gw.post({ query: `mutation { ${field} { __typename } }` });
        const text = await response.clone().text();
        expect(text).not.toMatch(/Secret|4\.25e1/);
        const error = await refused(response, 400, 'GRAPHQL_VALIDATION_FAILED');
        expect(error.message).toBe(message);
      }
      // A literal where the document cannot have one: the parse error names the kind of token only.
      const misplaced = await gw.post({ query: 'mutation { login(email: "a@example.com", "Secret-Misplaced-5") { __typename } }' });
      expect(await misplaced.clone().text()).not.toMatch(/Secret/);
      expect((await refused(misplaced, 400, 'GRAPHQL_PARSE_FAILED')).message).toBe('Syntax Error: Expected Name, found String.');
      for (const [escaped, quoted, message] of [
        ['pa\\qs-Secret', /\\\\q/, 'Syntax Error: Invalid character escape sequence.'],
        ['pa\\users-Secret', /sers/, 'Syntax Error: Invalid Unicode escape sequence.'],
        ['pa\ud800s-Secret', /U\+D800/, 'Syntax Error: Invalid character within String.'], // a lone surrogate
      ] as const) {
        const escape = await gw.post({ query: `mutation { login(email: "a@example.com", password: "${escaped}") { __typename } }` });
        expect(await escape.clone().text()).not.toMatch(quoted);
        expect((await refused(escape, 400, 'GRAPHQL_PARSE_FAILED')).message).toBe(message);
      }
      // A password written unquoted: the character the lexer stopped at is not quoted back,
      for (const [unquoted, message] of [
        ['9Lives-Secret', 'Syntax Error: Invalid number, expected digit.'],
        ['%Secret', 'Syntax Error: Unexpected character.'],
      ] as const) {
        const response = await gw.post({ query: `mutation { login(email: "a@example.com", password: ${unquoted}) { __typename } }` });
        expect(await response.clone().text()).not.toMatch(/"L"|"%"|Secret/);
        expect((await refused(response, 400, 'GRAPHQL_PARSE_FAILED')).message).toBe(message);
      }
      // nor one after a `$`, which the document then uses as a variable it does not define.
      for (const query of [
        'mutation { login(email: "a@example.com", password: $Tr0ub4dor_Secret) { __typename } }',
        'mutation SignIn { login(email: "a@example.com", password: $Tr0ub4dor_Secret) { __typename } }',
      ]) {
        const response = await gw.post({ query });
        expect(await response.clone().text()).not.toMatch(/Tr0ub4dor/);
        expect((await refused(response, 400, 'GRAPHQL_VALIDATION_FAILED')).message).toBe('A variable used here is not defined by the operation.');
      }
      const inDefault = await gw.post({ query: 'mutation ($p: String! = $Tr0ub4dor_Secret) { login(email: "a@example.com", password: $p) { __typename } }' });
      expect(await inDefault.clone().text()).not.toMatch(/Tr0ub4dor/);
      expect((await refused(inDefault, 400, 'GRAPHQL_PARSE_FAILED')).message).toBe('Syntax Error: Unexpected variable in constant value.');
      // A literal in a default value, and one in an input's field of the wrong type, alike.
      const defaulted = await gw.post({ query: 'mutation ($p: String! = ["Secret-By-Default-4"]) { login(email: "a@example.com", password: $p) { __typename } }' });
      expect(await defaulted.clone().text()).not.toMatch(/Secret/);
      expect((await refused(defaulted, 400, 'GRAPHQL_VALIDATION_FAILED')).message).toBe('String cannot represent the value given.');
      // An enum's default: a string where a value name is due, or a name the enum does not have.
      for (const value of ['"Secret-In-An-Enum-7"', 'Secret_Enum_Name_8']) {
        const response = await gw.post({ query: `query ($m: MfaMethod = ${value}) { __typename }` });
        expect(await response.clone().text()).not.toMatch(/Secret/);
        const messages = ((await response.json()) as { errors: Array<{ message: string }> }).errors.map((e) => e.message);
        expect(messages).toContain('Enum "MfaMethod" cannot represent the value given.');
      }
    }
  });
});

describe('caching', () => {
  it('marks every GraphQL answer Cache-Control: no-store (tokens, an error, a GET query)', async () => {
    const email = uniqueEmail('no-store');
    const registered = await prod.post(registerBody(email));
    expect(registered.status).toBe(200);
    expect(registered.headers.get('cache-control')).toBe('no-store');
    const login = await prod.post({ query: print(LoginDocument), variables: { email, password: PASSWORD } });
    expect(((await login.json()) as { data: { login: { accessToken?: string } } }).data.login.accessToken).toBeTruthy();
    expect(login.headers.get('cache-control')).toBe('no-store');
    const failed = await prod.post({ query: '{ nope }' });
    expect(failed.status).toBe(400);
    expect(failed.headers.get('cache-control')).toBe('no-store');
    const viaGet = await get(dev, '{ me { id } }', { 'apollo-require-preflight': 'true' });
    expect(viaGet.status).toBe(200);
    expect(viaGet.headers.get('cache-control')).toBe('no-store');
  });

  it('marks every answer X-Content-Type-Options: nosniff (GraphQL, an error, an unknown path, health, the JWKS)', async () => {
    const answers = [
      await prod.post({ query: '{ __typename }' }),
      await prod.post({ query: '{ nope }' }),
      await fetch(`${prod.url}/no-such-path`),
      await fetch(`${prod.url}/healthz`),
      await fetch(`${prod.url}/.well-known/jwks.json`),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([200, 400, 404, 200, 200]);
    for (const answer of answers) expect(answer.headers.get('x-content-type-options'), answer.url).toBe('nosniff');
  });

  it('keeps no-store on an error Apollo gives a cache-control of its own (a persisted query)', async () => {
    const response = await prod.post({ extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } });
    expect(response.status).toBe(200); // Apollo's status for it, as README says
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as { errors: Array<{ extensions: { code: string } }> };
    expect(body.errors[0]!.extensions.code).toBe('BAD_REQUEST');
  });

  it('takes no persisted query: one sent with its document is not run, nor is its hash known afterwards', async () => {
    const query = '{ passwordPolicy { minLength } }';
    const persistedQuery = { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') };
    for (const request of [{ query, extensions: { persistedQuery } }, { extensions: { persistedQuery } }]) {
      const body = (await (await dev.post(request)).json()) as { data?: unknown; errors: Array<{ extensions: { code: string } }> };
      expect(body.data, JSON.stringify(request)).toBeUndefined();
      expect(body.errors[0]!.extensions.code).toBe('BAD_REQUEST');
    }
  });

  it('marks the other answers no-store too, but for the JWKS, which says how long it may be kept', async () => {
    expect((await fetch(`${prod.url}/readyz`)).headers.get('cache-control')).toBe('no-store');
    expect((await fetch(`${prod.url}/nowhere`)).headers.get('cache-control')).toBe('no-store');
    expect((await fetch(`${prod.url}/.well-known/jwks.json`)).headers.get('cache-control')).toMatch(/^public, max-age=\d+$/);
  });

  it("answers a request Node's HTTP parser cannot read in the same shape, no-store, and closes", async () => {
    const raw = (head: string) => rawExchange(dev.url, head);
    const cases: Array<[string, number]> = [
      ['GET /graphql HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0000b\r\n\r\n', 400],
      ['POST /graphql HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400],
      [`GET /graphql HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
    ];
    for (const [head, status] of cases) {
      const answer = await raw(head);
      const [headers, body] = answer.split('\r\n\r\n') as [string, string];
      expect(headers.split('\r\n')[0]).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
      expect(headers.toLowerCase()).toContain('cache-control: no-store');
      expect(headers.toLowerCase()).toContain('x-content-type-options: nosniff');
      expect(JSON.parse(body)).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'BAD_REQUEST' } }] });
    }
  });

  it('answers a Host header that names no host 400 BAD_REQUEST (and an Expect it cannot meet 417), logging nothing as an error', async () => {
    const raw = (head: string) => rawExchange(prod.url, head);
    const body = '{"query":"{__typename}"}';
    const expectation = await raw(`POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 200-ok\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const [expectHeaders, expectJson] = expectation.split('\r\n\r\n') as [string, string];
    expect(expectHeaders.split('\r\n')[0]).toBe('HTTP/1.1 417 Expectation Failed');
    expect(expectHeaders.toLowerCase()).toContain('cache-control: no-store');
    expect(expectHeaders.toLowerCase()).toContain('x-content-type-options: nosniff');
    expect(JSON.parse(expectJson)).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'BAD_REQUEST' } }] });
    const from = prod.logs.length;
    for (const host of ['[', 'a b', '[::1', '%']) {
      const answer = await raw(`POST /graphql HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      const [headers, json] = answer.split('\r\n\r\n') as [string, string];
      expect(headers.split('\r\n')[0], host).toBe('HTTP/1.1 400 Bad Request');
      expect(JSON.parse(json)).toEqual({ errors: [{ message: 'Bad request: unreadable Host header.', extensions: { code: 'BAD_REQUEST' } }] });
    }
    expect(prod.logs.slice(from).join('')).not.toMatch(/"level":50/);
  });

  it('answers an HTTP/1.1 request without a Host header 400 BAD_REQUEST in the GraphQL shape (HTTP/1.0 needs none)', async () => {
    const raw = (head: string) => rawExchange(prod.url, head);
    const body = '{"query":"{__typename}"}';
    const post = (version: string) =>
      `POST /graphql HTTP/${version}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    const cases: Array<[string, string]> = [
      [post('1.1'), 'Bad request: missing Host header.'],
      ['GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n', 'Bad request: missing Host header.'],
      // HTTP/1.0 may leave it out, but GraphQL's URL is made from it.
      [post('1.0'), 'Bad request: unreadable Host header.'],
    ];
    for (const [head, message] of cases) {
      const [headers, json] = (await raw(head)).split('\r\n\r\n') as [string, string];
      expect(headers.split('\r\n')[0], head).toBe('HTTP/1.1 400 Bad Request');
      expect(headers.toLowerCase()).toContain('cache-control: no-store');
      expect(headers.toLowerCase()).toMatch(/x-request-id: [0-9a-f-]{36}/);
      expect(JSON.parse(json)).toEqual({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] });
    }
    const [headers10] = (await raw('GET /healthz HTTP/1.0\r\n\r\n')).split('\r\n\r\n') as [string, string];
    expect(headers10.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
  });

  it('answers a URL Fastify cannot read like any other refusal: registry code, request id, no-store', async () => {
    const response = await fetch(`${prod.url}/graphql%zz`);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    await refused(response, 400, 'BAD_REQUEST');
  });
});

describe('production hides the schema', () => {
  it('gives no field suggestions (development does, so the query would show one)', async () => {
    const query = { query: '{ mee { id } }' };
    expect((await refused(await dev.post(query), 400, 'GRAPHQL_VALIDATION_FAILED')).message).toContain('Did you mean');
    const error = await refused(await prod.post(query), 400, 'GRAPHQL_VALIDATION_FAILED');
    expect(error.message).not.toMatch(/did you mean|"me"/i);
  });

  // Apollo's hideSchemaDetailsFromClientErrors strips suggestions from validation errors only; a
  // variable of an enum or input-object type would name that type's other values in its
  // coercion error. None exists: adding one needs a suggestion filter for those errors too.
  it('takes no argument of an enum or input-object type, whose coercion errors would suggest values', () => {
    for (const schema of [gatewaySchema(), subgraphSchema()]) {
      for (const type of Object.values(schema.getTypeMap())) {
        if (!(type instanceof GraphQLObjectType) || type.name.startsWith('__')) continue;
        for (const field of Object.values(type.getFields())) {
          for (const arg of field.args) expect(getNamedType(arg.type), `${type.name}.${field.name}(${arg.name})`).toBeInstanceOf(GraphQLScalarType);
        }
      }
    }
  });

  it("answers a list variable of many wrong elements BAD_USER_INPUT throughout, graphql-js's own limit of 50 included, logging no unexpected error", async () => {
    const from = dev.logs.length;
    const response = await dev.post({
      query: 'mutation ($r: [String!]!) { setUserRoles(userId: "1", roles: $r) { id } }',
      variables: { r: Array.from({ length: 60 }, () => [1]) },
    });
    const body = (await response.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
    expect(body.errors.length).toBeGreaterThan(50);
    expect(new Set(body.errors.map((e) => e.extensions.code))).toEqual(new Set(['BAD_USER_INPUT']));
    expect(body.errors.at(-1)!.message).toBe('Too many errors processing variables, error limit reached. Execution aborted.');
    expect(dev.logs.slice(from).filter((line) => line.includes('unexpected error'))).toEqual([]);
  });

  it('refuses introspection in production and allows it in development', async () => {
    for (const result of [await prod.gql(SchemaRootDocument), await prod.gql(TypeByNameDocument, { name: 'User' })]) {
      expect(codeOf(result)).toBe('GRAPHQL_VALIDATION_FAILED');
      // Not Apollo's advice to pass an option to its constructor, which no setting reaches.
      expect(result.errors![0]!.message).toBe("GraphQL introspection is off in production (NODE_ENV=production): the schema is this version's schema.graphql.");
      expect(result.data ?? null).toBeNull();
    }
    // The subgraph listener names its own schema's file.
    const viaRouter = await fetch(`${prod.subgraphUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-subgraph-secret': SUBGRAPH_SECRET },
      body: JSON.stringify({ query: '{ __schema { queryType { name } } }' }),
    });
    const refusedThere = (await viaRouter.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
    expect(refusedThere.errors[0]!.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(refusedThere.errors[0]!.message).toBe(
      "GraphQL introspection is off in production (NODE_ENV=production): the schema is this version's schema.subgraph.graphql.",
    );
    expect((await dev.gql(SchemaRootDocument)).data?.__schema.queryType.name).toBe('Query');
    expect((await dev.gql(TypeByNameDocument, { name: 'User' })).data?.__type?.name).toBe('User');
  });
});

describe('landing page and request ids', () => {
  it("serves no Apollo landing page from a CDN, in development or production", async () => {
    for (const gw of [dev, prod]) {
      const response = await fetch(`${gw.url}/graphql`, { headers: { accept: 'text/html' } });
      const body = await response.text();
      expect(body).not.toContain('apollographql.com');
      expect(body).not.toContain('embeddable');
      // Development serves the gateway's own playground instead (test/http/playground.test.ts).
      expect(body).not.toMatch(/(src|href)="(https?:)?\/\//);
    }
    const production = await fetch(`${prod.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(production.headers.get('content-type')).not.toContain('text/html');
  });

  it('returns x-request-id: a safe given one echoed, otherwise a fresh one', async () => {
    const fresh = await dev.post({ query: '{ __typename }' });
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const given = await dev.post({ query: '{ __typename }' }, { headers: { 'x-request-id': 'trace-42.a:b' } });
    expect(given.headers.get('x-request-id')).toBe('trace-42.a:b');
    const unsafe = await dev.post({ query: '{ __typename }' }, { headers: { 'x-request-id': 'x'.repeat(65) } });
    expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const refusedOne = await dev.post([{ query: '{ __typename }' }]);
    expect(refusedOne.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('CORS', () => {
  const preflight = (gw: TestGateway, origin: string) =>
    fetch(`${gw.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization, x-refresh-transport' },
    });

  it('allows exactly the configured origins, with credentials', async () => {
    const allowed = await preflight(prod, APP);
    expect(allowed.status).toBeLessThan(300);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(APP);
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    const allowedHeaders = (allowed.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/\s*,\s*/);
    expect(allowedHeaders).toEqual(expect.arrayContaining(['content-type', 'authorization', 'x-refresh-transport']));
    const actual = await prod.post({ query: '{ __typename }' }, { headers: { origin: APP } });
    expect(actual.headers.get('access-control-allow-origin')).toBe(APP);
    // What page JavaScript may read: when to retry, and the request id.
    const exposed = (actual.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(/\s*,\s*/);
    expect(exposed).toEqual(expect.arrayContaining(['retry-after', 'x-request-id']));
    // Apollo Client's client-awareness headers pass the preflight, which a browser then keeps for 10 minutes.
    const apolloClient = await fetch(`${prod.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: APP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'apollographql-client-name, apollographql-client-version' },
    });
    expect((apolloClient.headers.get('access-control-allow-headers') ?? '').toLowerCase()).toContain('apollographql-client-version');
    expect(allowed.headers.get('access-control-max-age')).toBe('600');

  });

  it('tells an origin not listed, and a request with no Origin, nothing of what it allows: no CORS header at all', async () => {
    const corsHeaders = (response: Response) => [...response.headers.keys()].filter((h) => h.startsWith('access-control-'));
    for (const origin of ['http://evil.example', `${APP}.`, APP.toUpperCase(), 'null']) {
      const other = await preflight(prod, origin);
      expect(other.status, origin).toBe(204);
      expect(await other.text()).toBe('');
      expect(corsHeaders(other), origin).toEqual([]);
      const otherPost = await prod.post({ query: '{ __typename }' }, { headers: { origin } });
      expect(otherPost.status).toBe(200);
      expect(corsHeaders(otherPost), origin).toEqual([]);
    }
    expect(corsHeaders(await prod.post({ query: '{ __typename }' }))).toEqual([]);
  });

  it('keeps Vary: Origin beside the playground\'s Vary: Accept, and answers an OPTIONS that is no preflight 204', async () => {
    const both = await startGateway({ env: { CORS_ORIGINS: APP } });
    try {
      const answer = await fetch(`${both.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
        headers: { origin: APP, 'apollo-require-preflight': 'true' },
      });
      expect(answer.status).toBe(200);
      expect(answer.headers.get('access-control-allow-origin')).toBe(APP);
      const vary = (answer.headers.get('vary') ?? '').toLowerCase().split(/,\s*/);
      expect(vary).toEqual(expect.arrayContaining(['origin', 'accept']));

      const bare = await fetch(`${both.url}/graphql`, { method: 'OPTIONS' });
      expect(bare.status).toBe(204);
      expect([...bare.headers.keys()].filter((h) => h.startsWith('access-control-allow-origin'))).toEqual([]);
    } finally {
      await both.close();
    }
  });

  it('sends no CORS headers at all when CORS_ORIGINS is unset', async () => {
    // A preflight is answered as one from an origin not listed: empty, 204, no CORS headers (not
    // Apollo's 400 about cross-site request forgery, which misleads whoever debugs it).
    const refusedPreflight = await preflight(dev, APP);
    expect(refusedPreflight.status).toBe(204);
    expect(await refusedPreflight.text()).toBe('');
    for (const response of [
      refusedPreflight,
      await dev.post({ query: '{ __typename }' }, { headers: { origin: APP } }),
    ]) {
      expect([...response.headers.keys()].filter((h) => h.startsWith('access-control-'))).toEqual([]);
    }
  });
});
