// Rule: on the subgraph listener the client address follows SUBGRAPH_TRUST_PROXY, not TRUST_PROXY: unset, X-Forwarded-For is ignored (every client is the router); with a hop count, the address the trusted hop added is used.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUBGRAPH_SECRET_HEADER } from '../../src/http/subgraph-app';
import { PASSWORD, uniqueEmail } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';

const SECRET = randomBytes(24).toString('base64url');

async function call(gw: TestGateway, query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) {
  const response = await fetch(`${gw.subgraphUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [SUBGRAPH_SECRET_HEADER]: SECRET, ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: any; errors?: Array<{ extensions: { code: string } }> };
}

/** Registers and logs in through the listener with the given X-Forwarded-For; returns the session's recorded ip. */
async function sessionIpVia(gw: TestGateway, forwardedFor: string) {
  const email = uniqueEmail('xff');
  const headers = { 'x-forwarded-for': forwardedFor };
  expect((await call(gw, 'mutation ($e: String!, $p: String!) { register(email: $e, password: $p) }', { e: email, p: PASSWORD }, headers)).errors).toBeUndefined();
  const login = await call(gw, 'mutation ($e: String!, $p: String!) { login(email: $e, password: $p) { ... on AuthPayload { accessToken } } }', { e: email, p: PASSWORD }, headers);
  const token = login.data.login.accessToken as string;
  const sessions = await call(gw, '{ sessions { ip current } }', {}, { authorization: `Bearer ${token}` });
  return sessions.data.sessions.find((s: { current: boolean }) => s.current).ip as string;
}

describe('SUBGRAPH_TRUST_PROXY unset (TRUST_PROXY=1 on the public listener)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ env: { SUBGRAPH_PORT: '0', SUBGRAPH_SECRET: SECRET, TRUST_PROXY: '1' } });
  });
  afterAll(() => gw?.close());

  it('ignores X-Forwarded-For: the client is the router (the TCP peer)', async () => {
    expect(await sessionIpVia(gw, '203.0.113.7')).toBe('127.0.0.1');
  });

  it('warns of no missing X-Forwarded-For on the subgraph listener, which trusts no proxy', async () => {
    expect((await call(gw, '{ __typename }', {})).data).toEqual({ __typename: 'Query' });
    expect(gw.logs.filter((line) => line.includes('without X-Forwarded-For'))).toEqual([]);
  });
});

describe('SUBGRAPH_TRUST_PROXY=1', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ env: { SUBGRAPH_PORT: '0', SUBGRAPH_SECRET: SECRET, SUBGRAPH_TRUST_PROXY: '1' } });
  });
  afterAll(() => gw?.close());

  // Also README's set-up: a balancer appends the client's address, the router (the TCP peer)
  // passes the header on; =2 would take the forged entry.
  it('takes the last entry (the one a trusted hop added), and only that: an earlier forged entry changes nothing', async () => {
    expect(await sessionIpVia(gw, '203.0.113.7')).toBe('203.0.113.7');
    expect(await sessionIpVia(gw, '198.51.100.1, 203.0.113.8')).toBe('203.0.113.8');
  });

  // README's router.yaml propagates the header; a router set up without it sends none, and every
  // client then shares the router's address for the rate limits.
  it('says once that a request came without X-Forwarded-For', async () => {
    const warning = 'a GraphQL request came without X-Forwarded-For although SUBGRAPH_TRUST_PROXY is set';
    for (let i = 0; i < 2; i++) expect((await call(gw, '{ __typename }', {})).data).toEqual({ __typename: 'Query' });
    expect(gw.logs.filter((line) => line.includes(warning))).toHaveLength(1);
  });

  it('leaves the public listener on TRUST_PROXY (unset: the TCP peer)', async () => {
    const email = uniqueEmail('public');
    await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'mutation ($e: String!, $p: String!) { register(email: $e, password: $p) }', variables: { e: email, p: PASSWORD } }),
    });
    const login = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.9' },
      body: JSON.stringify({ query: 'mutation ($e: String!, $p: String!) { login(email: $e, password: $p) { ... on AuthPayload { accessToken } } }', variables: { e: email, p: PASSWORD } }),
    });
    const token = ((await login.json()) as any).data.login.accessToken as string;
    const sessions = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ sessions { ip current } }' }),
    });
    const ip = ((await sessions.json()) as any).data.sessions.find((s: { current: boolean }) => s.current).ip;
    expect(ip).toBe('127.0.0.1');
  });
});
