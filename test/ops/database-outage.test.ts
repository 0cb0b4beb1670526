// Rule: once PostgreSQL is reachable again, statements run within about a second, however many
// connects failed during the outage (postgres.js spaces them up to 20 s apart by default: after
// 12 s of refused connects the next one is at least 6 s after the server is back).
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
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
 * and stops listening (a connect is refused, as by a stopped server), `up()` listens again.
 */
async function relayTo(target: URL) {
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  const up = () =>
    new Promise<void>((resolve) => {
      server = net.createServer((client) => {
        const upstream = net.connect(Number(target.port || 5432), target.hostname);
        for (const [a, b] of [
          [client, upstream],
          [upstream, client],
        ] as const) {
          sockets.add(a);
          a.pipe(b);
          a.on('error', () => b.destroy());
          a.on('close', () => (sockets.delete(a), b.destroy()));
        }
      });
      server.listen(port, '127.0.0.1', resolve);
    });
  const down = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server ? server.close(() => resolve()) : resolve();
    });
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  await up();
  return { url: url.toString(), up, down };
}

/** When `work` settled (performance.now()), and whether it succeeded. */
const settle = (work: Promise<unknown>) =>
  work.then(
    () => ({ ok: true, at: performance.now() }),
    () => ({ ok: false, at: performance.now() }),
  );
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!databaseUrl)('a PostgreSQL outage', () => {
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
