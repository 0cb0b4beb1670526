// Rule: with METRICS_PORT, Prometheus metrics (audit events, answered error codes, HTTP statuses, answer durations, hashing and token-cache gauges, process metrics) are on a listener of their own; never on the public port.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { LoginDocument, MeDocument } from '../gql/graphql';
import { codeOf, signUp } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { childEnv, createNamedDatabase, freePort, spawnTsx } from '../helpers/processes';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway({ env: { METRICS_PORT: '0' } });
});
afterAll(() => gw?.close());

const scrape = async (url: string) => {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.text();
};

/** The value of one series (`name{labels}` as Prometheus prints it), undefined when absent. */
const valueOf = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('METRICS_PORT', () => {
  it('counts audit events and the error codes clients were answered with, from 0', async () => {
    const before = await scrape(gw.metricsUrl!);
    expect(valueOf(before, 'gateway_audit_events_total{event="refresh token reused"}')).toBe(0);
    expect(valueOf(before, 'gateway_graphql_errors_total{code="SERVICE_UNAVAILABLE"}')).toBe(0);

    const user = await signUp(gw);
    const from = gw.logs.length;
    expect(codeOf(await gw.gql(LoginDocument, { email: user.email, password: 'Wrong-Password-42!' }))).toBe('INVALID_CREDENTIALS');
    expect(codeOf(await gw.gql(MeDocument, {}))).toBe('UNAUTHENTICATED');
    expect((await gw.gql(MeDocument, {}, { token: user.accessToken })).errors).toBeUndefined();

    const after = await scrape(gw.metricsUrl!);
    const delta = (series: string) => valueOf(after, series)! - valueOf(before, series)!;
    expect(delta('gateway_audit_events_total{event="login succeeded"}')).toBe(1);
    expect(delta('gateway_audit_events_total{event="password rejected"}')).toBe(1);
    expect(delta('gateway_graphql_errors_total{code="INVALID_CREDENTIALS"}')).toBe(1);
    expect(delta('gateway_graphql_errors_total{code="UNAUTHENTICATED"}')).toBe(1);
    expect(delta('gateway_graphql_errors_total{code="INTERNAL_SERVER_ERROR"}')).toBe(0);
    // Counted, and still written to the audit log.
    const audited = gw.logs.slice(from).map((line) => JSON.parse(line) as { audit?: boolean; msg: string }).filter((line) => line.audit);
    expect(audited.map((line) => line.msg)).toEqual(['password rejected']);
  });

  it("counts every HTTP answer by listener and status, the HTTP layer's refusals and the parser's included", async () => {
    const before = await scrape(gw.metricsUrl!);
    const series = (status: number) => `gateway_http_responses_total{listener="public",status="${status}"}`;
    expect((await gw.gql(MeDocument, {})).status).toBe(200);
    expect((await fetch(`${gw.url}/nowhere`)).status).toBe(404);
    const big = await gw.post({ query: '{ __typename }', variables: { pad: 'a'.repeat(101 * 1024) } });
    expect(big.status).toBe(413);
    // A request Node's HTTP parser cannot read: answered on the socket, before Fastify sees it.
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(gw.url).port), '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n'));
      let answer = '';
      socket.on('data', (chunk) => (answer += String(chunk)));
      socket.on('close', () => resolve(answer));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    const after = await scrape(gw.metricsUrl!);
    const delta = (status: number, from = before, to = after) => (valueOf(to, series(status)) ?? 0) - (valueOf(from, series(status)) ?? 0);
    expect(delta(404)).toBe(1);
    expect(delta(413)).toBe(1);
    expect(delta(400)).toBe(1);
    expect(delta(200)).toBeGreaterThanOrEqual(1);

    // A URL Fastify cannot route: refused outside the routes' hooks, counted all the same.
    expect((await fetch(`${gw.url}/graphql/%zz`)).status).toBe(400);
    const unroutable = await scrape(gw.metricsUrl!);
    expect(delta(400, after, unroutable)).toBe(1);
    // An expectation the gateway does not meet: refused (417) before the body, counted too.
    const expectation = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(gw.url).port), '127.0.0.1', () =>
        socket.write('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nExpect: 200-ok\r\nConnection: close\r\n\r\n'),
      );
      let answer = '';
      socket.on('data', (chunk) => (answer += String(chunk)));
      socket.on('close', () => resolve(answer));
      socket.on('error', reject);
    });
    expect(expectation).toMatch(/^HTTP\/1\.1 417 /);
    expect(delta(417, unroutable, await scrape(gw.metricsUrl!))).toBe(1);
    // A client gone before its body was whole: nobody is answered, nothing is counted.
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(new URL(gw.url).port), '127.0.0.1', () => {
        socket.end('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"query"');
      });
      socket.on('data', (chunk) => reject(new Error(`answered: ${String(chunk)}`)));
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    expect(delta(400, unroutable, await scrape(gw.metricsUrl!))).toBe(0);
  });

  it('times every routed answer of the public listener, in seconds', async () => {
    const user = await signUp(gw);
    const histogram = (part: string) => `gateway_http_request_duration_seconds_${part}{listener="public"}`;
    const bucket = (le: string) => `gateway_http_request_duration_seconds_bucket{le="${le}",listener="public"}`;
    const before = await scrape(gw.metricsUrl!);
    const started = performance.now();
    expect((await gw.gql(LoginDocument, { email: user.email, password: user.password })).errors).toBeUndefined();
    expect((await gw.gql(MeDocument, {}, { token: user.accessToken })).errors).toBeUndefined();
    expect((await fetch(`${gw.url}/nowhere`)).status).toBe(404);
    const wallSeconds = (performance.now() - started) / 1000;
    const after = await scrape(gw.metricsUrl!);
    const delta = (series: string) => valueOf(after, series)! - valueOf(before, series)!;
    expect(delta(histogram('count'))).toBe(3);
    expect(delta(bucket('+Inf'))).toBe(3);
    // Seconds, not milliseconds: the three took less than the client waited for them.
    expect(delta(histogram('sum'))).toBeGreaterThan(0);
    expect(delta(histogram('sum'))).toBeLessThan(wallSeconds);
    // The login's password hash alone takes longer than a millisecond.
    expect(delta(bucket('0.001'))).toBeLessThanOrEqual(2);
    expect(valueOf(after, 'gateway_http_request_duration_seconds_count{listener="subgraph"}')).toBeUndefined();
  });

  it("counts the subgraph listener's answers under their own label", async () => {
    const federated = await startGateway({ env: { METRICS_PORT: '0', SUBGRAPH_PORT: '0', SUBGRAPH_SECRET: 'router-secret-'.repeat(3) } });
    try {
      // Without the router's secret: refused with 403 before any GraphQL.
      const refused = await fetch(`${federated.subgraphUrl}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
      expect(refused.status).toBe(403);
      const text = await scrape(federated.metricsUrl!);
      expect(valueOf(text, 'gateway_http_responses_total{listener="subgraph",status="403"}')).toBe(1);
      expect(valueOf(text, 'gateway_http_responses_total{listener="public",status="403"}')).toBeUndefined();
      expect(valueOf(text, 'gateway_http_request_duration_seconds_count{listener="subgraph"}')).toBe(1);
      expect(valueOf(text, 'gateway_http_request_duration_seconds_count{listener="public"}')).toBe(0);
    } finally {
      await federated.close();
    }
  });

  it('reads the hashing admission and the token cache at each scrape, beside the process metrics', async () => {
    const user = await signUp(gw);
    expect((await gw.gql(MeDocument, {}, { token: user.accessToken })).errors).toBeUndefined();
    // A place taken in the admission's line (as a login does before its hash) counts as waiting.
    const place = gw.deps.hasher.reserve('metrics-test');
    const text = await scrape(gw.metricsUrl!).finally(() => place.release());
    expect(valueOf(text, 'gateway_password_hashes{state="running"}')).toBe(0);
    expect(valueOf(text, 'gateway_password_hashes{state="waiting"}')).toBe(1);
    expect(valueOf(await scrape(gw.metricsUrl!), 'gateway_password_hashes{state="waiting"}')).toBe(0);
    expect(valueOf(text, 'gateway_verified_tokens_cached')).toBe(gw.deps.verifiedTokens.size);
    expect(gw.deps.verifiedTokens.size).toBeGreaterThan(0);
    expect(valueOf(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
  });

  it('is not on the public port', async () => {
    const response = await fetch(`${gw.url}/metrics`);
    expect(response.status).toBe(404);
  });
});

describe('npm start', () => {
  const cleanups: Array<() => unknown> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('listens for metrics on METRICS_PORT, and says where', { timeout: 90_000 }, async () => {
    const database = await createNamedDatabase({ migrated: true });
    cleanups.push(() => database.drop());
    const [port, metricsPort] = [await freePort(), await freePort()];
    const child = spawnTsx(
      'src/main.ts',
      [],
      childEnv({ ...database.env, NODE_ENV: 'test', LOG_LEVEL: 'warn', PORT: String(port), METRICS_PORT: String(metricsPort), ENCRYPTION_KEYS: generateEncryptionKeyEntry('k1') }),
    );
    cleanups.push(() => child.killAll());
    await child.waitFor(/Prometheus metrics at http:\/\/localhost:(\d+)\/metrics/, 60_000);
    const text = await scrape(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(valueOf(text, 'gateway_audit_events_total{event="login succeeded"}')).toBe(0);
    expect(child.stdout()).toContain(`localhost:${metricsPort}/metrics`);
  });
});
