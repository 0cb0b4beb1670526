import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
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
  /** With Redis: false while it is known not to answer (RedisConnection.healthy); then it is not asked. */
  redisAnswers?: () => boolean;
}

/**
 * rate-limiter-flexible behind the domain's CounterStore. Each operation is one command on one
 * key (Cluster-ready). A store error reaches the domain only when RATE_LIMIT_FAIL=closed, as
 * SERVICE_UNAVAILABLE; otherwise the in-memory insurance limiter answers instead. The insurance
 * is ours rather than rate-limiter-flexible's (its `insuranceLimiter`), so that every point says
 * which counters took it and is given back to those: a point taken in memory during an outage
 * and refunded after Redis returned must not come off a Redis counter that never had it.
 */
// Gives one point back only to a key that exists and is still the window the point was taken
// in (ARGV[1]: the ms it had left then, as seen now; a key that outlives it by more than a
// second is a later window), never below zero, keeping its expiry.
const SAFE_REFUND = `
if redis.call('exists', KEYS[1]) == 1 then
  if redis.call('pttl', KEYS[1]) > tonumber(ARGV[1]) + 1000 then return 0 end
  if redis.call('decr', KEYS[1]) < 0 then redis.call('set', KEYS[1], 0, 'KEEPTTL') end
end
return 0`;
/** How much later than the point's window a key may end and still be that window (latency). */
const SAME_WINDOW_SLACK_MS = 1000;

interface RuleLimiters {
  /** On Redis; unset without it. */
  shared: RateLimiterRedis | undefined;
  /** In memory: the whole store without Redis, the insurance with it (unset when 'closed'). */
  local: RateLimiterMemory | undefined;
}

export class RateLimiterCounterStore implements CounterStore {
  private readonly byRule: Record<RuleName, RuleLimiters>;

  constructor(private readonly options: CounterStoreOptions) {
    const make = (rule: RuleName): RuleLimiters => {
      const { points, duration } = options.rules[rule];
      const base = { keyPrefix: `${options.prefix}:${rule}`, points, duration };
      if (!options.redis) return { shared: undefined, local: new RateLimiterMemory(base) };
      return {
        shared: new RateLimiterRedis({ ...base, storeClient: options.redis, rejectIfRedisNotReady: true }),
        local: options.onRedisFailure === 'insurance' ? new RateLimiterMemory(base) : undefined,
      };
    };
    this.byRule = Object.fromEntries(
      (Object.keys(options.rules) as RuleName[]).map((rule) => [rule, make(rule)]),
    ) as Record<RuleName, RuleLimiters>;
  }

  async consume(rule: RuleName, key: string, windowSeconds?: number): Promise<Consumed> {
    const { shared, local } = this.byRule[rule];
    const options = windowSeconds === undefined ? {} : { customDuration: windowSeconds };
    let store: Consumed['store'] = 'local';
    if (shared && !this.asksRedis()) {
      if (!local) throw unavailable(new Error('Redis does not answer'));
    } else if (shared) {
      try {
        return answered(await shared.consume(key, 1, options), true, 'shared');
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) return answered(rejection, false, 'shared');
        if (!local) {
          // No attempt follows a failed take: should Redis run the command yet, it runs this next.
          if (!neverSent(rejection)) void this.giveBack(shared, key, Number.MAX_SAFE_INTEGER).catch(() => {});
          throw unavailable(rejection);
        }
        if (!neverSent(rejection)) store = 'unknown';
      }
    }
    try {
      return answered(await local!.consume(key, 1, options), true, store);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return answered(rejection, false, store);
      throw unavailable(rejection);
    }
  }

  /**
   * To the counters that took the point (to both when Redis may have run a command that failed
   * as far as we know). rate-limiter-flexible's reward() would create an expired key at -1 with
   * a fresh window. A refund Redis fails to take is dropped: the point stays spent until its
   * window ends, which errs on the safe side.
   */
  async refund(rule: RuleName, key: string, taken: Consumed) {
    const { shared, local } = this.byRule[rule];
    const leftMs = taken.windowEndsAt - Date.now();
    if (taken.store !== 'local' && shared) {
      const given = this.giveBack(shared, key, leftMs);
      if (!this.asksRedis()) {
        void given.catch(() => {}); // sent, not waited for: Redis runs it once it answers again
      } else {
        try {
          await given;
        } catch (error) {
          if (!local) throw unavailable(error);
        }
      }
    }
    if (taken.store === 'shared') return;
    const current = await local?.get(key);
    if (current && current.consumedPoints > 0 && current.msBeforeNext <= leftMs + SAME_WINDOW_SLACK_MS) await local!.reward(key, 1);
  }

  private giveBack(shared: RateLimiterRedis, key: string, leftMs: number) {
    return this.options.redis!.eval(SAFE_REFUND, 1, shared.getKey(key), Math.round(leftMs));
  }

  private asksRedis() {
    return this.options.redisAnswers?.() ?? true;
  }

  /** Both counters: what the insurance counted during an outage goes too. */
  async reset(rule: RuleName, key: string) {
    const { shared, local } = this.byRule[rule];
    await local?.delete(key);
    if (shared && !this.asksRedis()) {
      void shared.delete(key).catch(() => {}); // as refund: not waited for while Redis does not answer
      return;
    }
    try {
      await shared?.delete(key);
    } catch (error) {
      if (!local) throw unavailable(error);
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

/**
 * Redis did not run the command: the connection was not ready (rate-limiter-flexible's check),
 * could not take it (ioredis without its offline queue), or Redis refused it with an error
 * reply (OOM, BUSY, NOPERM…). Any other failure, a timeout above all, may come after Redis ran it.
 */
const neverSent = (error: unknown) =>
  error instanceof Error && (error.name === 'ReplyError' || /^(Redis connection is not ready|Stream isn't writeable)/.test(error.message));

function answered(res: RateLimiterRes, allowed: boolean, store: Consumed['store']): Consumed {
  return { allowed, consumed: res.consumedPoints, msBeforeNext: res.msBeforeNext, windowEndsAt: Date.now() + res.msBeforeNext, store };
}

function unavailable(cause: unknown) {
  const error = new ServiceUnavailableError();
  (error as { cause?: unknown }).cause = cause;
  return error;
}
