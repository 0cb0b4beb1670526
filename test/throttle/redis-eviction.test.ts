// Rule: a Redis that evicts keys when full (any maxmemory-policy but noeviction) could drop the
// counters and the revoked sessions, all of which expire: the gateway says so once at start-up.
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger';
import { connectRedis } from '../../src/storage/redis/client';
import { redisServerBinary, throwawayRedis, type ThrowawayRedis } from '../helpers/throwaway-redis';

const binary = redisServerBinary();
if (!binary) console.log('skipping the eviction policy test: no redis-server on PATH');

const WARNING = /maxmemory-policy is not noeviction/;

describe.skipIf(!binary)("Redis's eviction policy", () => {
  let redis: ThrowawayRedis | undefined;
  afterAll(() => redis?.stop());

  /** Connects as the gateway does and returns what it logged within half a second of being ready. */
  async function linesOnConnect(url: string) {
    const lines: string[] = [];
    const connection = connectRedis(url, createLogger('info', new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) })));
    try {
      expect(await connection.ready(5000)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 500));
      return lines.join('');
    } finally {
      await connection.close();
    }
  }

  it('is left alone at noeviction, and warned of once otherwise', async () => {
    redis = await throwawayRedis(binary!);
    await redis.start();
    expect(await linesOnConnect(redis.url)).not.toMatch(WARNING);
    const admin = redis.client();
    try {
      await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    } finally {
      await admin.quit();
    }
    const logged = await linesOnConnect(redis.url);
    expect(logged).toMatch(WARNING);
    expect(logged).toContain('"policy":"allkeys-lru"');
    expect(logged.match(new RegExp(WARNING, 'g'))).toHaveLength(1);
  });
});
