// Rule: a revocation made while Redis is down (or back but not yet ready, or not answering) is
// not lost: it is shared as soon as Redis is ready again, so every instance refuses the
// session's access tokens within moments of Redis's return; what expired meanwhile is dropped,
// and what could never be shared is counted (never named) when the feed closes.
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { createLogger } from '../../src/logger';
import { connectRedis } from '../../src/storage/redis/client';
import { RedisRevocationFeed } from '../../src/storage/redis/revocation-feed';
import { LogoutDocument, MeDocument } from '../gql/graphql';
import { codeOf, signUp } from '../helpers/fixtures';
import { createTestDatabase, startGateway, type TestDatabase, type TestGateway } from '../helpers/gateway';
import { redisServerBinary, throwawayRedis, type ThrowawayRedis } from '../helpers/throwaway-redis';

const binary = redisServerBinary();
if (!binary) console.log('skipping the revocation outbox tests: no redis-server on PATH');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const meCode = async (g: TestGateway, token: string) => codeOf(await g.gql(MeDocument, {}, { token }));

/** Polls until `done` holds; fails after `ms`. */
async function within(ms: number, what: string, done: () => Promise<boolean> | boolean) {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
}

async function readyz(gw: TestGateway) {
  return ((await (await fetch(`${gw.url}/readyz`)).json()) as { rateLimits: string }).rateLimits;
}

describe.skipIf(!binary)('a revocation made while Redis is down', () => {
  let redis: ThrowawayRedis;
  let database: TestDatabase;
  const cleanup: Array<() => Promise<unknown>> = [];
  beforeAll(async () => {
    [redis, database] = await Promise.all([throwawayRedis(binary!), createTestDatabase()]);
  });
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
    cleanup.length = 0;
  });
  afterAll(async () => {
    redis?.resume(); // a paused server would not stop
    await redis?.stop();
    await database?.drop();
  });

  it('reaches the other instance once Redis is back, though its verified-token cache holds the token', async () => {
    await redis.start();
    const encryptionKeys = generateEncryptionKeyEntry('test');
    const env = { REDIS_URL: redis.url, RATE_LIMIT_PREFIX: 'outbox-gateways' };
    const start = async () => {
      const g = await startGateway({ database: database.database, encryptionKeys, env });
      cleanup.push(() => g.close());
      return g;
    };
    const [a, b] = [await start(), await start()];
    const user = await signUp(a);
    expect(await meCode(b, user.accessToken)).toBeUndefined(); // now in B's verified-token cache

    await redis.stop();
    await within(5000, 'A notices the outage', async () => (await readyz(a)) === 'memory-fallback');
    expect((await a.gql(LogoutDocument, { refreshToken: user.refreshToken })).errors).toBeUndefined();
    expect(await meCode(a, user.accessToken)).toBe('UNAUTHENTICATED');
    expect(await meCode(b, user.accessToken)).toBeUndefined(); // nothing could reach B yet

    // An empty Redis (nothing persisted): only A's outbox can tell B.
    await redis.start();
    await within(5000, 'B refuses the revoked session after Redis is back', async () => (await meCode(b, user.accessToken)) === 'UNAUTHENTICATED');
  }, 60_000);

  it('says why Redis did not take a revocation when it refuses it (an ACL without write rights), not only that it is unavailable', async () => {
    await redis.start();
    const prefix = 'outbox-refused';
    const admin = probe();
    await admin.call('ACL', 'SETUSER', 'reader', 'on', '>reader-password', 'resetkeys', `%R~${prefix}:*`, 'resetchannels', `&${prefix}:*`, '-@all', '+@read', '+@pubsub', '+@connection', '+info');
    const url = new URL(redis.url);
    [url.username, url.password] = ['reader', 'reader-password'];
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const { feed } = await readyFeed(prefix, { logger: createLogger('warn', sink), url: url.toString() });
    await feed.publish(['s-refused'], new Date(Date.now() + 600_000));
    expect(feed.isRevoked('s-refused', new Date())).toBe(true); // enforced here all the same
    const warning = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((l) => /not shared yet/.test(String(l.msg)));
    expect(warning).toMatchObject({ count: 1, err: { type: 'ReplyError', code: 'NOPERM' } });
    expect(lines.join('')).not.toContain('s-refused');
  }, 30_000);

  it('shares every pending revocation once, merged, drops the expired ones, and counts what is never shared', async () => {
    await redis.start();
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const prefix = 'outbox-feed';
    const { feed, connection } = await readyFeed(prefix, { logger: createLogger('info', sink) });
    const { feed: other } = await readyFeed(prefix);
    const later = Date.now() + 600_000;

    // Published while another share is under way: it rides on that one, and is in the set
    // when its publish resolves.
    await Promise.all([feed.publish(['s-x'], new Date(later)), feed.publish(['s-y'], new Date(later))]);
    const looking = probe();
    expect(await looking.zmscore(`${prefix}:revoked`, 's-x', 's-y')).toEqual([String(later), String(later)]);
    await looking.del(`${prefix}:revoked`);
    looking.disconnect();

    await redis.stop();
    await within(5000, 'the client notices the outage', () => connection.client.status !== 'ready');
    await Promise.all([feed.publish(['s-1', 's-2'], new Date(later)), feed.publish(['s-3'], new Date(later + 1000))]);
    await feed.publish(['s-1'], new Date(later + 2000)); // the same session again: one entry, the latest expiry
    await feed.publish(['s-1'], new Date(later - 5000));
    await feed.publish(['s-short'], new Date(Date.now() + 300)); // its tokens expire during the outage
    expect(feed.isRevoked('s-1', new Date())).toBe(true); // enforced here meanwhile
    expect(await feed.flush(0)).toBe(4);
    await sleep(400);
    expect(await feed.flush(0)).toBe(3);

    await redis.start();
    // Published while the connection is back but not yet ready (or just after): joins the rest.
    void feed.publish(['s-4'], new Date(later));
    expect(await feed.flush(5000)).toBe(0);

    const watcher = probe();
    const set = await watcher.zrange(`${prefix}:revoked`, 0, -1, 'WITHSCORES');
    const scores = Object.fromEntries(set.flatMap((value, i) => (i % 2 === 0 ? [[value, Number(set[i + 1])]] : [])));
    expect(scores).toEqual({ 's-1': later + 2000, 's-2': later, 's-3': later + 1000, 's-4': later });
    // Merged: the backlog went out in one batch (s-4 perhaps in a second), not once per publish.
    const stats = await watcher.info('commandstats');
    const calls = (command: string) => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    expect(calls('publish')).toBeGreaterThanOrEqual(1);
    expect(calls('publish')).toBeLessThanOrEqual(2);
    expect(calls('zadd')).toBe(calls('publish'));
    watcher.disconnect();
    // The other instance learns of them (by its reload or the channel, whichever comes last).
    const ids = ['s-1', 's-2', 's-3', 's-4'];
    await within(5000, 'the other instance refuses them', () => ids.every((id) => other.isRevoked(id, new Date())));
    expect(other.isRevoked('s-short', new Date())).toBe(false);
    expect(lines.join('')).toContain('revocations shared now that Redis is back');

    // A Redis that stops answering without closing the connection: no 'ready' follows its
    // return, so the failed share is tried again on a timer.
    redis.pause();
    await feed.publish(['s-5'], new Date(later)); // times out
    redis.resume();
    await within(5000, 'the other instance refuses s-5', () => other.isRevoked('s-5', new Date()));

    // Never shared: close says how many, not which.
    await redis.stop();
    await within(5000, 'the client notices the outage', () => connection.client.status !== 'ready');
    await feed.publish(['s-lost-1', 's-lost-2'], new Date(later));
    expect(await feed.close()).toBe(2);
    const warnings = lines.map((line) => JSON.parse(line) as { level: number; msg: string; count?: number }).filter((l) => l.level === 40);
    expect(warnings.at(-1)).toMatchObject({ msg: expect.stringMatching(/never shared/), count: 2 });
    expect(lines.join('')).not.toContain('s-lost');
  }, 60_000);

  /** A feed on a connection of its own (to `url`, default the server's), ready and started. */
  async function readyFeed(
    prefix: string,
    { logger = createLogger('silent'), options, url = redis.url }: { logger?: Logger; options?: ConstructorParameters<typeof RedisRevocationFeed>[3]; url?: string } = {},
  ) {
    const connection = connectRedis(url, createLogger('silent'));
    cleanup.push(() => connection.close());
    expect(await connection.ready(5000)).toBe(true);
    const feed = new RedisRevocationFeed(connection.client, prefix, logger, options);
    cleanup.push(() => feed.close());
    await feed.started();
    return { feed, connection };
  }

  /** A plain client for looking at keys, disconnected when the test ends. */
  function probe() {
    const client = redis.client();
    cleanup.push(async () => client.disconnect());
    return client;
  }

  /** A feed on a connection made only when `connect` is called: what it publishes first waits in its outbox. */
  async function feedConnectedLater(prefix: string) {
    const client = new Redis(redis.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    const feed = new RedisRevocationFeed(client, prefix, createLogger('silent'));
    cleanup.push(async () => client.disconnect());
    cleanup.push(() => feed.close());
    return { feed, connect: () => client.connect() };
  }

  it('announces and keeps a backlog whose entries end at different times until the latest of them ends', async () => {
    await redis.start();
    const prefix = 'outbox-ends';
    const { feed: receiver } = await readyFeed(prefix);
    const { feed, connect } = await feedConnectedLater(prefix);
    const now = Date.now();
    await feed.publish(['s-early'], new Date(now + 60_000));
    await feed.publish(['s-late'], new Date(now + 600_000));
    await connect();
    expect(await feed.flush(5000)).toBe(0);
    // The subscribed instance heard one message for both (it loads nothing meanwhile).
    await within(5000, 'the receiver hears the backlog', () => receiver.isRevoked('s-late', new Date()));
    expect(receiver.isRevoked('s-late', new Date(now + 120_000))).toBe(true);
    // And the set lives as long as its latest entry (and the skew): one loading later finds it.
    expect(Number(await probe().call('PEXPIRETIME', `${prefix}:revoked`))).toBe(now + 600_000 + 60_000);
  }, 30_000);

  it('shares a backlog larger than one script call takes (Lua unpacks a few thousand values), in batches', async () => {
    await redis.start();
    const prefix = 'outbox-large';
    const { feed, connect } = await feedConnectedLater(prefix);
    const ids = Array.from({ length: 5000 }, (_, i) => `s-mass-${i}`);
    await feed.publish(ids, new Date(Date.now() + 600_000));
    await connect();
    expect(await feed.flush(10_000)).toBe(0);
    expect(await probe().zcard(`${prefix}:revoked`)).toBe(5000);
  }, 30_000);

  it('tries once more at close what waits for its retry, and shares it when Redis is back by then', async () => {
    await redis.start();
    const prefix = 'outbox-close';
    const { feed } = await readyFeed(prefix);
    redis.pause();
    cleanup.push(async () => redis.resume());
    await feed.publish(['s-at-close'], new Date(Date.now() + 600_000)); // times out: waits for its retry
    redis.resume();
    expect(await feed.close()).toBe(0);
    expect(await probe().zscore(`${prefix}:revoked`, 's-at-close')).not.toBeNull();
  }, 30_000);

  it('judges what has expired by the clock it is given, as the revocations were made by, not by the system clock', async () => {
    await redis.start();
    // An instance whose clock runs two hours ahead of the system's (a test clock moved on).
    const ahead = { now: () => new Date(Date.now() + 7_200_000) };
    const prefix = 'outbox-clock';
    const { feed } = await readyFeed(prefix, { options: { clock: ahead } });
    const stored = probe();
    const minute = 60_000;
    // Ended an hour ago by its clock (still ahead of the system's): nothing left to share or keep.
    const ended = ahead.now().getTime() - 60 * minute;
    await stored.zadd(`${prefix}:revoked`, ended, 's-stored-ended');
    await feed.publish(['s-live'], new Date(ahead.now().getTime() + minute));
    await feed.publish(['s-ended'], new Date(ended));
    expect(await feed.flush(5000)).toBe(0);
    expect(await feed.load()).toBe(true);
    expect(await stored.zrange(`${prefix}:revoked`, 0, -1)).toEqual(['s-live']);
    expect(feed.isRevoked('s-live', ahead.now())).toBe(true);
  }, 30_000);
});
