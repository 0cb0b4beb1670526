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
  /**
   * Told of every take Redis failed while it was thought to answer (an error reply such as
   * NOPERM or OOM, a timeout): `counted`, the insurance counted it instead; otherwise it was
   * refused ('closed', or no answer in time: see consume).
   */
  onCommandFailed?: (error: unknown, counted: boolean) => void;
}

/**
 * rate-limiter-flexible behind the domain's CounterStore. Each operation is one command on one
 * key. A store error reaches the domain as SERVICE_UNAVAILABLE when RATE_LIMIT_FAIL=closed, or
 * for a take not answered in time while Redis still counts as up (see consume); otherwise the
 * in-memory insurance limiter answers instead. The insurance
 * is ours rather than rate-limiter-flexible's (its `insuranceLimiter`), so that every point says
 * which counters took it and is given back only there: a point taken in memory during an outage
 * and refunded after Redis returned must not come off a Redis counter that never had it.
 *
 * A give-back never adds budget: not to a window that has ended, nor to a later one, nor to
 * Redis for a take it may or may not have run (one that timed out: a Redis that answers late
 * still runs it). Where that is unsure, the point stays spent, which errs on the safe side.
 */
// Gives one point back only to a key that exists and is still the window the point was taken
// in, never below zero, keeping its expiry. ARGV[1]..ARGV[2]: the time that window can have left
// (ms): at most what it had left when the refund was sent, at least that less the latency the
// gateway allows for; a window started since ends later or, made with a shorter duration (the
// back-off gates), sooner.
const SAFE_REFUND = `
if redis.call('exists', KEYS[1]) == 1 then
  local left = redis.call('pttl', KEYS[1])
  if left < tonumber(ARGV[1]) or left > tonumber(ARGV[2]) then return 0 end
  if redis.call('decr', KEYS[1]) < 0 then redis.call('set', KEYS[1], 0, 'KEEPTTL') end
end
return 0`;
/** Rounding between the clocks that measure a window (ms). */
const SAME_WINDOW_SLACK_MS = 5;
/**
 * How much sooner than its point's window a key may end and still be that window: the time a
 * reply waited to be read (the event loop busy), and the give-back's trip to Redis. Beyond it
 * the point stays spent.
 */
const SAME_WINDOW_LAG_MS = 2000;
/** A window about to end is left alone: it would be over before the give-back lands. */
const ENDING_WINDOW_MS = 50;

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
    if (shared && this.asksRedis()) {
      try {
        return answered(await shared.consume(key, 1, options), true, 'shared');
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) return answered(rejection, false, 'shared');
        // An error reply: Redis did not run the take, and the insurance counts it instead. No
        // reply in time while Redis still counts as answering (most often this process was too
        // busy to read it: a flood of requests sees to that): Redis may well have taken the point,
        // and refused it past the limit, while the insurance, which has counted nothing of this
        // window, would grant a budget of its own on every instance. Refused instead, nothing
        // checked; once the stall watch finds Redis away, the insurance answers without asking it.
        const counted = local !== undefined && (isReplyError(rejection) || !this.asksRedis() || this.options.redis!.status !== 'ready');
        this.options.onCommandFailed?.(rejection, counted);
        if (!counted) throw unavailable(rejection);
      }
    } else if (shared && !local) {
      throw unavailable(new Error('Redis does not answer'));
    }
    try {
      return answered(await local!.consume(key, 1, options), true, 'local');
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return answered(rejection, false, 'local');
      throw unavailable(rejection);
    }
  }

  /**
   * To the counters that took the point, while its window lasts. rate-limiter-flexible's
   * reward() would create an expired key at -1 with a fresh window. Redis is not asked while it
   * is known not to answer (a give-back sent then would run whenever it answered, maybe in a
   * later window); a give-back it fails to take is dropped. Either way the point stays spent
   * until its window ends. Never rejects.
   */
  async refund(rule: RuleName, key: string, taken: Consumed) {
    const { shared, local } = this.byRule[rule];
    const leftMs = taken.windowEndsAt - performance.now();
    if (leftMs <= ENDING_WINDOW_MS) return; // its window has ended, or is about to: nothing to give back to
    if (taken.store === 'shared') {
      if (!shared || !this.asksRedis()) return;
      try {
        const left = Math.ceil(leftMs);
        await this.options.redis!.eval(SAFE_REFUND, 1, shared.getKey(key), left - SAME_WINDOW_LAG_MS, left + SAME_WINDOW_SLACK_MS);
      } catch {
        // Dropped, whatever RATE_LIMIT_FAIL says: the answer the attempt got (RATE_LIMITED, say)
        // stands, and the point stays spent.
      }
      return;
    }
    // A record whose window has passed may linger until its timer runs: not this point's either.
    const current = await local?.get(key);
    if (
      current &&
      current.consumedPoints > 0 &&
      current.msBeforeNext > ENDING_WINDOW_MS &&
      current.msBeforeNext >= leftMs - SAME_WINDOW_LAG_MS &&
      current.msBeforeNext <= leftMs + SAME_WINDOW_SLACK_MS
    ) {
      await local!.reward(key, 1);
    }
  }

  private asksRedis() {
    return this.options.redisAnswers?.() ?? true;
  }

  /**
   * Both counters: what the insurance counted during an outage goes too. Redis is not asked
   * while it is known not to answer (a delete sent then could run in a later window). Without
   * the insurance ('closed') a reset Redis did not take fails, as a take would.
   */
  async reset(rule: RuleName, key: string) {
    const { shared, local } = this.byRule[rule];
    await local?.delete(key);
    if (!shared) return;
    if (!this.asksRedis()) {
      if (!local) throw unavailable(new Error('Redis does not answer'));
      return;
    }
    try {
      await shared.delete(key);
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

const isReplyError = (error: unknown) => error instanceof Error && error.name === 'ReplyError';

function answered(res: RateLimiterRes, allowed: boolean, store: Consumed['store']): Consumed {
  return { allowed, consumed: res.consumedPoints, msBeforeNext: res.msBeforeNext, windowEndsAt: performance.now() + res.msBeforeNext, store };
}

function unavailable(cause: unknown) {
  const error = new ServiceUnavailableError();
  (error as { cause?: unknown }).cause = cause;
  return error;
}
