import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Consumed, CounterStore, LimitRule, RuleName } from '../../domain/throttle';
import { ServiceUnavailableError } from '../../errors';

export type RuleSet = Record<RuleName, LimitRule>;

export interface CounterStoreOptions {
  prefix: string;
  rules: RuleSet;
  /** Unset: counters in this process's memory (one instance only). */
  redis?: Redis;
  /** With Redis: what to do when it fails. 'insurance' = same limits in memory per instance. */
  onRedisFailure: 'insurance' | 'closed';
}

/**
 * rate-limiter-flexible behind the domain's CounterStore. Each operation is one command on one
 * key (Cluster-ready). A store error reaches the domain only when RATE_LIMIT_FAIL=closed, as
 * SERVICE_UNAVAILABLE; otherwise the in-memory insurance limiter answers instead.
 */
// Gives one point back only to a key that exists, never below zero, keeping its expiry.
const SAFE_REFUND = `
if redis.call('exists', KEYS[1]) == 1 then
  if redis.call('decr', KEYS[1]) < 0 then redis.call('set', KEYS[1], 0, 'KEEPTTL') end
end
return 0`;

interface RuleLimiters {
  limiter: RateLimiterAbstract;
  /** The in-memory limiter: the whole store without Redis, the insurance with it. */
  memory: RateLimiterMemory | undefined;
}

export class RateLimiterCounterStore implements CounterStore {
  private readonly byRule: Record<RuleName, RuleLimiters>;

  constructor(private readonly options: CounterStoreOptions) {
    const make = (rule: RuleName): RuleLimiters => {
      const { points, duration } = options.rules[rule];
      const base = { keyPrefix: `${options.prefix}:${rule}`, points, duration };
      if (!options.redis) {
        const memory = new RateLimiterMemory(base);
        return { limiter: memory, memory };
      }
      const insurance = options.onRedisFailure === 'insurance' ? new RateLimiterMemory(base) : undefined;
      const limiter = new RateLimiterRedis({
        ...base,
        storeClient: options.redis,
        rejectIfRedisNotReady: true,
        insuranceLimiter: insurance,
      });
      return { limiter, memory: insurance };
    };
    this.byRule = Object.fromEntries(
      (Object.keys(options.rules) as RuleName[]).map((rule) => [rule, make(rule)]),
    ) as Record<RuleName, RuleLimiters>;
  }

  async consume(rule: RuleName, key: string, windowSeconds?: number): Promise<Consumed> {
    try {
      const options = windowSeconds === undefined ? {} : { customDuration: windowSeconds };
      const res = await this.byRule[rule].limiter.consume(key, 1, options);
      return { allowed: true, consumed: res.consumedPoints, msBeforeNext: res.msBeforeNext };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        return { allowed: false, consumed: rejection.consumedPoints, msBeforeNext: rejection.msBeforeNext };
      }
      throw unavailable(rejection);
    }
  }

  /** rate-limiter-flexible's reward() would create an expired key at -1 with a fresh window. */
  async refund(rule: RuleName, key: string) {
    const { limiter, memory } = this.byRule[rule];
    const redis = this.options.redis;
    if (redis) {
      try {
        await redis.eval(SAFE_REFUND, 1, limiter.getKey(key));
        return;
      } catch (error) {
        if (!memory) throw unavailable(error);
      }
    }
    const current = await memory!.get(key);
    if (current && current.consumedPoints > 0) await memory!.reward(key, 1);
  }

  async reset(rule: RuleName, key: string) {
    try {
      await this.byRule[rule].limiter.delete(key);
    } catch (error) {
      throw unavailable(error);
    }
  }

  async resetPrefix(rule: RuleName, prefix: string) {
    const redis = this.options.redis;
    if (!redis) return 0; // memory counters live in the server process; they end with it
    let count = 0;
    const stream = redis.scanStream({ match: `${this.options.prefix}:${rule}:${prefix}*`, count: 200 });
    for await (const keys of stream as AsyncIterable<string[]>) {
      for (const key of keys) count += await redis.del(key);
    }
    return count;
  }
}

function unavailable(cause: unknown) {
  const error = new ServiceUnavailableError();
  (error as { cause?: unknown }).cause = cause;
  return error;
}
