// Rule: once PostgreSQL is reachable again, statements run within about a second, however many
// connects failed during the outage (postgres.js spaces them up to 20 s apart by default: after
// 12 s of refused connects the next one is at least 6 s after the server is back); /readyz
// answers in bounded time while it stalls.
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { READY_TIMEOUT_MS, registerHealthRoutes } from '../../src/http/health';
import { openPostgres } from '../../src/storage/postgres';
import { freePort } from '../helpers/processes';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) console.log('skipping database-outage tests: they need DATABASE_URL (PGlite has no connections)');

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/**
 * A TCP relay to the real server on a port of its own: `down()` drops every relayed connection
 * and stops listening (a connect is refused, as by a stopped server), `up()` listens again;
 * `stall()` holds every byte either way without closing anything (a server or network that
 * stopped answering), `flow()` lets them through again.
 */
async function relayTo(target: URL) {
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  const pipes: Array<[net.Socket, net.Socket]> = [];
  let server: net.Server | undefined;
  let stalled = false;
  const up = () =>
    new Promise<void>((resolve) => {
      server = net.createServer((client) => {
        const upstream = net.connect(Number(target.port || 5432), target.hostname);
        for (const [a, b] of [
          [client, upstream],
          [upstream, client],
        ] as const) {
          sockets.add(a);
          pipes.push([a, b]);
          if (stalled) {
            held.add(a);
            a.pause();
          } else a.pipe(b);
          a.on('error', () => b.destroy());
          a.on('close', () => (sockets.delete(a), b.destroy()));
        }
      });
      server.listen(port, '127.0.0.1', resolve);
    });
  const held = new Set<net.Socket>();
  /** `alsoNew` false: only the connections open now stall (a partition that cut them off). */
  const stall = (alsoNew = true) => {
    stalled = alsoNew;
    for (const [a, b] of pipes) {
      if (held.has(a)) continue;
      held.add(a);
      a.unpipe(b);
      a.pause();
    }
  };
  const flow = () => {
    stalled = false;
    for (const [a, b] of pipes) {
      if (held.delete(a)) a.pipe(b);
    }
  };
  const down = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server ? server.close(() => resolve()) : resolve();
    });
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  await up();
  return { url: url.toString(), up, down, stall, flow };
}

/** When `work` settled (performance.now()), and whether it succeeded. */
const settle = (work: Promise<unknown>) =>
  work.then(
    () => ({ ok: true, at: performance.now() }),
    () => ({ ok: false, at: performance.now() }),
  );
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** /readyz on a listener of its own, pinging the database through a relay with `connections` pooled connections. */
async function healthThroughRelay(connections: number) {
  const relay = await relayTo(new URL(databaseUrl!));
  cleanups.push(relay.down);
  const database = await openPostgres(relay.url, { max: connections });
  cleanups.push(() => database.close());
  const app = Fastify();
  const pings = { count: 0 };
  registerHealthRoutes(app, () => (pings.count++, database.ping()), () => 'memory');
  await app.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => app.close());
  const readyz = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}/readyz`;
  expect((await fetch(readyz)).status).toBe(200);
  return { relay, readyz, pings };
}

describe.skipIf(!databaseUrl)('a PostgreSQL outage', () => {
  it('/readyz answers 503 within its timeout while the database stalls without closing its connections, and 200 once it answers', { timeout: 30_000 }, async () => {
    const { relay, readyz } = await healthThroughRelay(1);

    relay.stall();
    // Probes while it stalls: each answered 503 in about READY_TIMEOUT_MS, not whenever the
    // database answers.
    for (let probe = 0; probe < 3; probe++) {
      const started = performance.now();
      const answer = await fetch(readyz, { signal: AbortSignal.timeout(READY_TIMEOUT_MS + 3000) });
      expect(answer.status).toBe(503);
      expect(await answer.json()).toMatchObject({ status: 'unavailable', code: 'SERVICE_UNAVAILABLE', degraded: true });
      expect(performance.now() - started).toBeLessThan(READY_TIMEOUT_MS + 1000);
    }
    relay.flow();
    await expect.poll(async () => (await fetch(readyz)).status, { timeout: 5000 }).toBe(200);
  });

  it('/readyz probes within its timeout share one ping while the database stalls, rather than each leaving a query waiting', { timeout: 30_000 }, async () => {
    const { relay, readyz, pings } = await healthThroughRelay(4);
    relay.stall();
    pings.count = 0;
    const probes = await Promise.all(Array.from({ length: 8 }, () => fetch(readyz).then((answer) => answer.status)));
    expect(probes).toEqual(Array(8).fill(503));
    expect(pings.count).toBe(1);
    // Past the timeout, the next probe asks anew.
    expect((await fetch(readyz)).status).toBe(503);
    expect(pings.count).toBe(2);
    relay.flow();
    await expect.poll(async () => (await fetch(readyz)).status, { timeout: 5000 }).toBe(200);
  });

  it('/readyz answers 200 again once the database does, though a ping still waits on a connection cut off for good', { timeout: 30_000 }, async () => {
    const { relay, readyz } = await healthThroughRelay(2);

    relay.stall(false); // the open connection never answers again; new ones do
    expect((await fetch(readyz)).status).toBe(503); // its ping waits on that connection
    // The next probes ask anew, on another connection, rather than wait on the one left behind.
    await expect.poll(async () => (await fetch(readyz)).status, { timeout: 10_000 }).toBe(200);
  });

  it('delays statements by at most about a second once the server is back', { timeout: 60_000 }, async () => {
    const relay = await relayTo(new URL(databaseUrl!));
    cleanups.push(relay.down);
    const database = await openPostgres(relay.url, { max: 1 });
    cleanups.push(() => database.close());
    await database.ping();

    await relay.down();
    // Work keeps arriving during the outage (a statement every 250 ms): each one that waits for a
    // connection costs a failed connect.
    const during = [];
    for (let i = 0; i < 48; i++) {
      await sleep(250);
      during.push(settle(database.ping()));
    }
    await relay.up();
    const back = performance.now();
    const after = await settle(database.ping());
    // Every statement queued during the outage is answered (done or refused) soon after it.
    const lastQueued = Math.max(...(await Promise.all(during)).map((w) => w.at));
    expect(after.ok).toBe(true);
    expect(after.at - back).toBeLessThan(2000);
    expect(lastQueued - back).toBeLessThan(2000);
  });
});
