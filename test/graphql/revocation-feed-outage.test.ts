// Rule: a revocation feed (the gateway's, and the subgraph kit's) that starts while Redis is
// down subscribes once Redis is back: revocations published afterwards reach it, not only the
// set it loads on reconnecting; it closes at once if Redis never comes back; and the kit's feed
// notices connections that died without closing (dropped by a NAT) and makes them anew; the
// gateway's, after Redis froze, follows the channel again without reconnecting over and over.
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger';
import { connectRedis, type RedisConnection } from '../../src/storage/redis/client';
import { RedisRevocationFeed } from '../../src/storage/redis/revocation-feed';
import { createRevocationFeed } from '../../src/subgraph';
import { relayTo } from '../helpers/relay';
import { redisServerBinary, throwawayRedis, type ThrowawayRedis } from '../helpers/throwaway-redis';

const binary = redisServerBinary();
if (!binary) console.log('skipping the revocation feed outage test: no redis-server on PATH');

const PREFIX = 'feed-outage';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!binary)('a revocation feed started while Redis is down', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
    cleanup.length = 0;
  });

  const connect = (redis: ThrowawayRedis): RedisConnection => {
    const connection = connectRedis(redis.url, createLogger('silent'));
    cleanup.push(() => connection.close());
    return connection;
  };

  it('subscribes once Redis is back, in the gateway and in the subgraph kit', async () => {
    const redis = await throwawayRedis(binary!);
    cleanup.push(() => redis.stop());
    const logger = createLogger('silent');
    const gateway = new RedisRevocationFeed(connect(redis).client, PREFIX, logger);
    cleanup.push(() => gateway.close());
    await gateway.started();
    const kitStarting = createRevocationFeed({ redisUrl: redis.url, prefix: PREFIX }); // waits up to 3 s for Redis
    // Long enough for a first SUBSCRIBE to meet the outage (ioredis gives a command one retry).
    await sleep(1000);
    await redis.start();
    const kit = await kitStarting;
    cleanup.push(() => kit.close());
    // Both have reconnected and loaded the (empty) set by now: only the channel can bring what
    // is published next.
    await sleep(1000);

    const publishing = connect(redis);
    expect(await publishing.ready(5000)).toBe(true);
    const publisher = new RedisRevocationFeed(publishing.client, PREFIX, logger);
    cleanup.push(() => publisher.close());
    await publisher.started();
    await publisher.publish(['session-after-outage'], new Date(Date.now() + 600_000));

    const deadline = Date.now() + 5000; // reconnection backs off up to 2 s
    while (!(gateway.isRevoked('session-after-outage', new Date()) && kit.isRevoked('session-after-outage'))) {
      if (Date.now() > deadline) break;
      await sleep(20);
    }
    expect(gateway.isRevoked('session-after-outage', new Date())).toBe(true);
    expect(kit.isRevoked('session-after-outage')).toBe(true);
  });

  it("the kit's feed makes its connections anew when they die without closing, and learns the revocations it missed", async () => {
    const redis = await throwawayRedis(binary!);
    cleanup.push(() => redis.stop());
    await redis.start();
    const relay = await relayTo(redis.port);
    cleanup.push(() => relay.close());
    const warnings: string[] = [];
    const kit = await createRevocationFeed({ redisUrl: relay.url, prefix: PREFIX, logger: { warn: (_d, message) => void warnings.push(message), info: () => {} } });
    cleanup.push(() => kit.close());
    const publishing = connect(redis);
    expect(await publishing.ready(5000)).toBe(true);
    const publisher = new RedisRevocationFeed(publishing.client, PREFIX, createLogger('silent'));
    cleanup.push(() => publisher.close());
    await publisher.started();

    relay.blackhole();
    await publisher.publish(['session-while-dropped'], new Date(Date.now() + 600_000));
    // Missed on the channel; without the PINGs nothing would notice for hours (TCP keep-alive).
    const deadline = Date.now() + 15_000; // a PING every 5 s, 2 s for its answer, then reconnecting
    while (!kit.isRevoked('session-while-dropped') && Date.now() < deadline) await sleep(50);
    expect(kit.isRevoked('session-while-dropped')).toBe(true);
    expect(warnings).toContain('the revocation channel stopped answering: reconnecting (the revoked set is loaded again once it is back)');
    // And it follows the channel again.
    await publisher.publish(['session-after-reconnecting'], new Date(Date.now() + 600_000));
    const followed = Date.now() + 3000;
    while (!kit.isRevoked('session-after-reconnecting') && Date.now() < followed) await sleep(20);
    expect(kit.isRevoked('session-after-reconnecting')).toBe(true);
  }, 30_000);

  it("the gateway's feed, after Redis froze for a while, follows the channel again without reconnecting over and over", async () => {
    const redis = await throwawayRedis(binary!);
    cleanup.push(async () => {
      redis.resume();
      await redis.stop();
    });
    await redis.start();
    const warnings: number[] = [];
    const STOPPED = 'the revocation channel stopped answering: reconnecting (the revoked set is loaded again once it is back)';
    const logger = { warn: (_details: object, message: string) => void (message === STOPPED && warnings.push(Date.now())), info: () => {} };
    const connection = connect(redis);
    expect(await connection.ready(5000)).toBe(true);
    const gateway = new RedisRevocationFeed(connection.client, PREFIX, logger);
    cleanup.push(() => gateway.close());
    await gateway.started(); // subscribed

    // Frozen long enough for a PING on the channel's connection to go unanswered (every 5 s, 2 s to answer).
    redis.pause();
    const deadline = Date.now() + 10_000;
    while (warnings.length === 0 && Date.now() < deadline) await sleep(50);
    expect(warnings.length).toBe(1);
    await sleep(8000); // and a while after that, as a longer freeze would
    redis.resume();
    const resumed = warnings.length;
    // A PING left unanswered at the reconnection must not hold up every later one: two more
    // rounds of PINGs pass without a word.
    await sleep(12_500);
    expect(warnings).toHaveLength(resumed);

    const publishing = connect(redis);
    expect(await publishing.ready(5000)).toBe(true);
    const publisher = new RedisRevocationFeed(publishing.client, PREFIX, createLogger('silent'));
    cleanup.push(() => publisher.close());
    await publisher.started();
    await publisher.publish(['session-after-freeze'], new Date(Date.now() + 600_000));
    const followed = Date.now() + 3000;
    while (!gateway.isRevoked('session-after-freeze', new Date()) && Date.now() < followed) await sleep(20);
    expect(gateway.isRevoked('session-after-freeze', new Date())).toBe(true);
  }, 50_000);

  it("the kit's feed warns of each outage once: of a second one too, after Redis came back", async () => {
    const redis = await throwawayRedis(binary!);
    cleanup.push(() => redis.stop());
    await redis.start();
    const warnings: string[] = [];
    const kit = await createRevocationFeed({ redisUrl: redis.url, prefix: PREFIX, logger: { warn: (_details, message) => void warnings.push(message), info: () => {} } });
    cleanup.push(() => kit.close());
    const outage = async (count: number) => {
      await redis.stop();
      const deadline = Date.now() + 5000;
      while (warnings.length < count && Date.now() < deadline) await sleep(20);
      await sleep(1500); // reconnection attempts meanwhile (backing off up to 2 s) warn no more
      expect(warnings.filter((w) => w.startsWith('Redis unreachable'))).toHaveLength(count);
    };
    await outage(1);
    await redis.start();
    await sleep(2500); // reconnected
    await outage(2);
  }, 30_000);

  it('closes at once while Redis has stayed down since it started (a SIGTERM must not hang on it)', async () => {
    const redis = await throwawayRedis(binary!); // never started
    const within = async (what: string, closing: Promise<unknown>) => {
      const started = Date.now();
      await Promise.race([closing, sleep(2000).then(() => Promise.reject(new Error(`${what} did not close within 2 s`)))]);
      return Date.now() - started;
    };
    const gateway = new RedisRevocationFeed(connect(redis).client, PREFIX, createLogger('silent'));
    const kit = await createRevocationFeed({ redisUrl: redis.url, prefix: PREFIX }); // gives up waiting after 3 s
    expect(await within('the gateway feed', gateway.close())).toBeLessThan(500);
    expect(await within("the kit's feed", kit.close())).toBeLessThan(500);
  });
});
