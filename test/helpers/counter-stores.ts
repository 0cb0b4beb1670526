/**
 * The real counter stores for domain-level throttle tests: rate-limiter-flexible in memory
 * always, and on Redis when REDIS_URL is set (own key prefix per store, so runs never meet).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RuleName, ThrottleLimits } from '../../src/domain/throttle';
import { createLogger } from '../../src/logger';
import { connectRedis } from '../../src/storage/redis/client';
import { RateLimiterCounterStore } from '../../src/storage/redis/counter-store';

const HIGH = { points: 100_000, duration: 900 };

/** Limits that never interfere, except the ones a test sets. */
export const limitsWith = (overrides: Partial<ThrottleLimits>): ThrottleLimits => ({
  loginEmailIp: HIGH,
  loginIp: HIGH,
  loginAccount: HIGH,
  registerIp: HIGH,
  refreshIp: HIGH,
  mfaUser: HIGH,
  mfaConsecutive: HIGH,
  ...overrides,
});

export interface OpenedStore {
  store: RateLimiterCounterStore;
  /** The Redis key of a counter, and the store's own connection (Redis stores only). */
  redis?: { client: Redis; key(rule: RuleName, key: string): string };
  close(): Promise<void>;
}

export interface CounterStoreKind {
  name: 'memory' | 'redis';
  open(limits: ThrottleLimits): Promise<OpenedStore>;
}

// As in openCounters(): the back-offs are blocks with their own durations; their rules only have to exist.
export const rulesOf = (limits: ThrottleLimits) => ({ ...limits, accountBackoff: { points: 1, duration: 1 }, mfaBackoff: { points: 1, duration: 1 } });
const prefix = () => `test:${randomBytes(6).toString('hex')}`;

const memory: CounterStoreKind = {
  name: 'memory',
  open: async (limits) => ({
    store: new RateLimiterCounterStore({ prefix: prefix(), rules: rulesOf(limits), onRedisFailure: 'insurance' }),
    close: async () => {},
  }),
};

const redis = (url: string): CounterStoreKind => ({
  name: 'redis',
  async open(limits) {
    const connection = connectRedis(url, createLogger('silent'));
    if (!(await connection.ready(5000))) {
      await connection.close();
      throw new Error('REDIS_URL is set but Redis is not reachable');
    }
    // 'closed': a Redis error must fail the test, not be hidden by the in-memory insurance.
    const keyPrefix = prefix();
    const store = new RateLimiterCounterStore({
      prefix: keyPrefix,
      rules: rulesOf(limits),
      redis: connection.client,
      onRedisFailure: 'closed',
    });
    return {
      store,
      redis: { client: connection.client, key: (rule, key) => `${keyPrefix}:${rule}:${key}` },
      close: () => connection.close(),
    };
  },
});

/** Memory always; Redis too when REDIS_URL is set (the caller prints why it is missing). */
export function counterStoreKinds(): CounterStoreKind[] {
  const url = process.env.REDIS_URL;
  return url ? [memory, redis(url)] : [memory];
}
