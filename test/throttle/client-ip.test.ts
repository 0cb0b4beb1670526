// Rule: the client IP (rate-limit key, session ip) is the socket address unless TRUST_PROXY trusts the hop; a forged X-Forwarded-For changes nothing, and IPv6 clients share a /64 budget.
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { LoginDocument, SessionsDocument } from '../gql/graphql';
import { clientAt } from '../helpers/client-address';
import { codeOf, PASSWORD, signUp, uniqueEmail } from '../helpers/fixtures';
import { createTestDatabase, startGateway, type TestDatabase, type TestGateway } from '../helpers/gateway';

const WRONG = 'Wrong-Guess-4242!';

let shared: TestDatabase;
const KEYS = generateEncryptionKeyEntry('client-ip');
beforeAll(async () => {
  shared = await createTestDatabase();
});
afterAll(() => shared?.drop());

/** A gateway whose per-IP login budget is 3 failures, with the given TRUST_PROXY. */
function gatewayWith(trustProxy: string | undefined) {
  const ctx = { gw: undefined as unknown as TestGateway };
  beforeAll(async () => {
    ctx.gw = await startGateway({
      database: shared.database,
      encryptionKeys: KEYS,
      env: { LOGIN_LIMIT_IP: '3/60', ...(trustProxy && { TRUST_PROXY: trustProxy }) },
    });
  });
  afterAll(() => ctx.gw?.close());
  return ctx;
}

const xff = (value: string) => ({ headers: { 'x-forwarded-for': value } });

/** A wrong password for a fresh (unknown) email, as seen through `forwardedFor`. */
const failWith = (gw: TestGateway, forwardedFor?: string) =>
  gw.gql(LoginDocument, { email: uniqueEmail('guess'), password: WRONG }, forwardedFor ? xff(forwardedFor) : {});

/** Logs in through `forwardedFor` and returns the ip the new session recorded. */
async function sessionIpVia(gw: TestGateway, forwardedFor: string) {
  const { email } = await signUp(gw);
  const login = await gw.gql(LoginDocument, { email, password: PASSWORD }, xff(forwardedFor));
  const payload = login.data?.login;
  if (payload?.__typename !== 'AuthPayload') throw new Error(`expected an AuthPayload: ${JSON.stringify(login.errors)}`);
  const list = await gw.gql(SessionsDocument, {}, { token: payload.accessToken });
  expect(list.errors).toBeUndefined();
  return list.data!.sessions.find((s) => s.current)!.ip;
}

/**
 * Logs in from the TCP peer `peer` (Fastify's inject: the tests' sockets are all loopback) through
 * `forwardedFor`, and returns the ip the new session recorded.
 */
async function sessionIpFrom(gw: TestGateway, peer: string, forwardedFor: string) {
  const { email } = await signUp(gw);
  const response = await gw.app.inject({
    method: 'POST',
    url: '/graphql',
    remoteAddress: peer,
    headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
    payload: { query: print(LoginDocument), variables: { email, password: PASSWORD } },
  });
  const payload = response.json<{ data?: { login: { __typename: string; accessToken?: string } } }>().data?.login;
  if (payload?.__typename !== 'AuthPayload') throw new Error(`expected an AuthPayload: ${response.body}`);
  const list = await gw.gql(SessionsDocument, {}, { token: payload.accessToken! });
  expect(list.errors).toBeUndefined();
  return list.data!.sessions.find((s) => s.current)!.ip;
}

/** Three failures through rotating forged addresses exhaust the socket address's budget. */
async function expectForgeryIgnored(gw: TestGateway, forged: (i: number) => string) {
  for (let i = 0; i < 3; i++) expect(codeOf(await failWith(gw, forged(i)))).toBe('INVALID_CREDENTIALS');
  expect(codeOf(await failWith(gw, forged(3)))).toBe('RATE_LIMITED');
  expect(codeOf(await failWith(gw))).toBe('RATE_LIMITED');
  // The budget is the address's, not a global one: a real other client still gets checked.
  const other = await clientAt(gw, '127.0.0.2')(LoginDocument, { email: uniqueEmail('guess'), password: WRONG });
  expect(codeOf(other)).toBe('INVALID_CREDENTIALS');
}

describe('without TRUST_PROXY', () => {
  const ctx = gatewayWith(undefined);

  it('the socket address is the client; a rotating forged X-Forwarded-For does not reset the budget', async () => {
    expect(await sessionIpVia(ctx.gw, '198.51.100.7')).toBe('127.0.0.1');
    await expectForgeryIgnored(ctx.gw, (i) => `203.0.113.${i + 1}`);
  });

  it('warns of no missing X-Forwarded-For: it trusts no proxy', async () => {
    const response = await fetch(`${ctx.gw.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
    expect(response.status).toBe(200);
    expect(ctx.gw.logs.filter((line) => line.includes('without X-Forwarded-For'))).toEqual([]);
  });
});

describe('TRUST_PROXY=10.0.0.0/8 (the loopback peer is not a trusted proxy)', () => {
  const ctx = gatewayWith('10.0.0.0/8');

  it('X-Forwarded-For is ignored', async () => {
    expect(await sessionIpVia(ctx.gw, '198.51.100.7')).toBe('127.0.0.1');
    await expectForgeryIgnored(ctx.gw, (i) => `203.0.113.${i + 1}`);
  });
});

describe('TRUST_PROXY=127.0.0.1 (the peer is a trusted proxy)', () => {
  const ctx = gatewayWith('127.0.0.1');

  it('the forwarded address is the client: its own session ip and its own budget', async () => {
    const { gw } = ctx;
    expect(await sessionIpVia(gw, '198.51.100.7')).toBe('198.51.100.7');

    for (let i = 0; i < 3; i++) expect(codeOf(await failWith(gw, '203.0.113.1'))).toBe('INVALID_CREDENTIALS');
    expect(codeOf(await failWith(gw, '203.0.113.1'))).toBe('RATE_LIMITED');
    expect(codeOf(await failWith(gw, '203.0.113.2'))).toBe('INVALID_CREDENTIALS');
    expect(codeOf(await failWith(gw))).toBe('INVALID_CREDENTIALS'); // the proxy's own address
    // Entries left of the first untrusted hop are the client's to forge: they change nothing.
    expect(codeOf(await failWith(gw, '192.0.2.99, 203.0.113.1'))).toBe('RATE_LIMITED');
  });

  it('IPv6 clients share one budget per /64', async () => {
    const { gw } = ctx;
    for (const address of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:ffff::9']) {
      expect(codeOf(await failWith(gw, address))).toBe('INVALID_CREDENTIALS');
    }
    expect(codeOf(await failWith(gw, '2001:db8:1:2:abcd::1'))).toBe('RATE_LIMITED');
    expect(codeOf(await failWith(gw, '2001:db8:1:3::1'))).toBe('INVALID_CREDENTIALS');
  });
});

describe('TRUST_PROXY=1 (one trusted hop, whatever its address)', () => {
  const ctx = gatewayWith('1');

  it('the last X-Forwarded-For entry is the client; entries before it change nothing', async () => {
    const { gw } = ctx;
    expect(await sessionIpVia(gw, '192.0.2.50, 198.51.100.5')).toBe('198.51.100.5');

    for (let i = 0; i < 3; i++) {
      expect(codeOf(await failWith(gw, `192.0.2.${i + 1}, 203.0.113.5`))).toBe('INVALID_CREDENTIALS');
    }
    expect(codeOf(await failWith(gw, '192.0.2.9, 203.0.113.5'))).toBe('RATE_LIMITED');
    expect(codeOf(await failWith(gw, '203.0.113.5'))).toBe('RATE_LIMITED');
    expect(codeOf(await failWith(gw, '203.0.113.5, 203.0.113.6'))).toBe('INVALID_CREDENTIALS');
  });

  it('reads an address the proxy wrote with a port as that address: its session ip and its own budget', async () => {
    const { gw } = ctx;
    expect(await sessionIpVia(gw, '198.51.100.8:5123')).toBe('198.51.100.8');
    expect(await sessionIpVia(gw, '[2001:db8:9::1]:443')).toBe('2001:db8:9::1');
    expect(await sessionIpVia(gw, '::ffff:198.51.100.9')).toBe('198.51.100.9');
    for (let i = 0; i < 3; i++) expect(codeOf(await failWith(gw, `203.0.113.9:${4000 + i}`))).toBe('INVALID_CREDENTIALS');
    expect(codeOf(await failWith(gw, '203.0.113.9'))).toBe('RATE_LIMITED');
    expect(codeOf(await failWith(gw, '203.0.113.10:4000'))).toBe('INVALID_CREDENTIALS'); // another client, the same port
  });

  it('says once that a request came without X-Forwarded-For: it counts as the proxy\'s own address', async () => {
    const { gw } = ctx;
    const warning = 'a GraphQL request came without X-Forwarded-For although TRUST_PROXY is set';
    for (let i = 0; i < 2; i++) {
      const response = await fetch(`${gw.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
      expect(response.status).toBe(200);
    }
    expect(gw.logs.filter((line) => line.includes(warning))).toHaveLength(1);
  });

  it('counts what is no address in one bucket, and says so once', async () => {
    const { gw } = ctx;
    const warning = 'a client address is not an IP address';
    for (const garbage of ['garbage', '1.1.1.1 2.2.2.2']) expect(codeOf(await failWith(gw, garbage))).toBe('INVALID_CREDENTIALS');
    expect(gw.logs.filter((line) => line.includes(warning))).toHaveLength(1);
  });

  it('trusts the hop only from a loopback or private peer: a client reaching the port from outside keeps its own address', async () => {
    const { gw } = ctx;
    for (const peer of ['203.0.113.77', '8.8.8.8', '2001:4860::8888']) {
      expect(await sessionIpFrom(gw, peer, '198.51.100.7'), peer).toBe(peer);
    }
    for (const peer of ['10.1.2.3', '192.168.1.9', 'fd00::1', '::ffff:172.16.0.1']) {
      expect(await sessionIpFrom(gw, peer, '198.51.100.7'), peer).toBe('198.51.100.7');
    }
  });
});
