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
export class RateLimiterCounterStore implements CounterStore {
  private readonly limiters: Record<RuleName, RateLimiterAbstract>;

  constructor(private readonly options: CounterStoreOptions) {
    const make = (rule: RuleName): RateLimiterAbstract => {
      const { points, duration } = options.rules[rule];
      const base = { keyPrefix: `${options.prefix}:${rule}`, points, duration };
      if (!options.redis) return new RateLimiterMemory(base);
      return new RateLimiterRedis({
        ...base,
        storeClient: options.redis,
        rejectIfRedisNotReady: true,
        insuranceLimiter: options.onRedisFailure === 'insurance' ? new RateLimiterMemory(base) : undefined,
      });
    };
    this.limiters = Object.fromEntries(
      (Object.keys(options.rules) as RuleName[]).map((rule) => [rule, make(rule)]),
    ) as Record<RuleName, RateLimiterAbstract>;
  }

  async consume(rule: RuleName, key: string): Promise<Consumed> {
    try {
      const res = await this.limiters[rule].consume(key, 1);
      return { allowed: true, consumed: res.consumedPoints, msBeforeNext: res.msBeforeNext };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        return { allowed: false, consumed: rejection.consumedPoints, msBeforeNext: rejection.msBeforeNext };
      }
      throw unavailable(rejection);
    }
  }

  async refund(rule: RuleName, key: string) {
    await this.call(() => this.limiters[rule].reward(key, 1));
  }

  async blockedFor(rule: RuleName, key: string) {
    const res = await this.call(() => this.limiters[rule].get(key));
    return res && res.consumedPoints >= this.options.rules[rule].points ? Math.max(res.msBeforeNext, 1) : 0;
  }

  async block(rule: RuleName, key: string, seconds: number) {
    await this.call(() => this.limiters[rule].block(key, seconds));
  }

  async reset(rule: RuleName, key: string) {
    await this.call(() => this.limiters[rule].delete(key));
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

  private async call<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      throw unavailable(error);
    }
  }
}

function unavailable(cause: unknown) {
  const error = new ServiceUnavailableError();
  (error as { cause?: unknown }).cause = cause;
  return error;
}
