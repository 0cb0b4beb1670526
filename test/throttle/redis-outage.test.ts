// Rule: a Redis outage never means unlimited attempts or a crash: by default the in-memory
// insurance limiter keeps limiting within milliseconds (/readyz 200, degraded, one warning per
// outage); with RATE_LIMIT_FAIL=closed credential operations answer SERVICE_UNAVAILABLE; both
// recover on their own when Redis returns.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LoginDocument, MeDocument, RefreshDocument, RegisterDocument } from '../gql/graphql';
import { codeOf, PASSWORD, signUp, uniqueEmail } from '../helpers/fixtures';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { clientKey, Throttle, type ThrottleLimits } from '../../src/domain/throttle';
import { RateLimitedError, ServiceUnavailableError } from '../../src/errors';
import { createLogger } from '../../src/logger';
import { connectRedis, pingAnswered, type RedisConnection } from '../../src/storage/redis/client';
import { RateLimiterCounterStore } from '../../src/storage/redis/counter-store';
import { limitsWith, rulesOf } from '../helpers/counter-stores';
import { createTestDatabase, startGateway, type GqlResult, type TestDatabase, type TestGateway } from '../helpers/gateway';
import { beforeNextCall } from '../helpers/hooks';
import { relayTo } from '../helpers/relay';
import { redisServerBinary, throwawayRedis, type ThrowawayRedis } from '../helpers/throwaway-redis';

const binary = redisServerBinary();
if (!binary) console.log('skipping Redis outage tests: no redis-server on PATH');

/** Fail-fast means an answer in milliseconds; ioredis's defaults would hang for 15 s. */
const QUICK_MS = 1000;

async function timed<T>(request: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await request();
  expect(performance.now() - started).toBeLessThan(QUICK_MS);
  return result;
}

async function readyz(gw: TestGateway) {
  const response = await fetch(`${gw.url}/readyz`);
  return { status: response.status, body: (await response.json()) as { rateLimits: string; degraded: boolean } };
}

/** gateway_rate_limits{mode} at a scrape of the metrics port, by mode. */
async function rateLimitGauge(gw: TestGateway) {
  const text = await (await fetch(gw.metricsUrl!)).text();
  return Object.fromEntries([...text.matchAll(/^gateway_rate_limits\{mode="([a-z-]+)"\} (\d+)$/gm)].map(([, mode, value]) => [mode, Number(value)]));
}

/** Polls /readyz (ioredis notices a close at once and reconnects within a second). */
async function untilRateLimits(gw: TestGateway, mode: string) {
  for (let waited = 0; ; waited += 50) {
    const { body } = await readyz(gw);
    if (body.rateLimits === mode) return;
    if (waited > 5000) throw new Error(`/readyz still reports ${body.rateLimits}, not ${mode}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A counter store on `connection`'s Redis with the given limits (the others never interfere). */
const storeOn = (
  connection: RedisConnection,
  prefix: string,
  limits: Partial<ThrottleLimits>,
  onRedisFailure: 'insurance' | 'closed',
  options: { redisAnswers?: () => boolean } = {},
) => new RateLimiterCounterStore({ prefix, rules: rulesOf(limitsWith(limits)), redis: connection.client, onRedisFailure, ...options });

/** Keeps the event loop busy, as a flood of requests would. */
function busyFor(ms: number) {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

async function within(ms: number, done: () => boolean | Promise<boolean>) {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const redisWarnings = (gw: TestGateway) =>
  gw.logs.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((l) => l.level === 40 && /redis/i.test(l.msg));

function expectUnavailable(result: GqlResult<unknown>) {
  expect(result.status).toBe(200);
  expect(result.errors).toHaveLength(1);
  expect(result.errors![0]).toMatchObject({ message: 'Service temporarily unavailable.', extensions: { code: 'SERVICE_UNAVAILABLE' } });
  expect(result.errors![0]!.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryAfter: 1 }); // no stack trace, no cause
  expect(result.headers.get('retry-after')).toBe('1');
}

describe.skipIf(!binary)('Redis outage', () => {
  let redis: ThrowawayRedis;
  let gw: TestGateway | undefined;
  // One database for both gateways (so one set of encryption keys), each with its own counters.
  let database: TestDatabase;
  const encryptionKeys = generateEncryptionKeyEntry('test');
  const start = (env: Record<string, string>) =>
    startGateway({ database: database.database, encryptionKeys, env: { REDIS_URL: redis.url, LOGIN_LIMIT_EMAIL_IP: '3/60', ...env } });
  beforeAll(async () => {
    [redis, database] = await Promise.all([throwawayRedis(binary!), createTestDatabase()]);
  });
  beforeEach(() => redis.start()); // a no-op while it runs
  afterAll(async () => {
    await gw?.close();
    await redis?.stop();
    await database?.drop();
  });

  it('default: the insurance limiter keeps limiting, /readyz and the metrics report the degradation, recovery is automatic', async () => {
    gw = await start({ METRICS_PORT: '0' });
    const user = await signUp(gw);
    expect(await readyz(gw)).toEqual({ status: 200, body: { status: 'ready', rateLimits: 'redis', degraded: false } });
    expect(await rateLimitGauge(gw)).toEqual({ redis: 1, memory: 0, 'memory-fallback': 0, 'redis-down': 0 });

    await redis.stop();
    await untilRateLimits(gw, 'memory-fallback');
    expect(await readyz(gw)).toEqual({ status: 200, body: { status: 'ready', rateLimits: 'memory-fallback', degraded: true } });
    expect(await rateLimitGauge(gw)).toEqual({ redis: 0, memory: 0, 'memory-fallback': 1, 'redis-down': 0 });
    for (let attempt = 1; attempt <= 3; attempt++) {
      const wrong = await timed(() => gw!.gql(LoginDocument, { email: user.email, password: `wrong-${attempt}` }));
      expect(codeOf(wrong), `attempt ${attempt}`).toBe('INVALID_CREDENTIALS');
    }
    const blocked = await timed(() => gw!.gql(LoginDocument, { email: user.email, password: PASSWORD }));
    expect(codeOf(blocked)).toBe('RATE_LIMITED');
    expect(blocked.errors![0]!.extensions.retryAfter).toBeGreaterThan(0);
    const me = await timed(() => gw!.gql(MeDocument, {}, { token: user.accessToken }));
    expect(me.data?.me.id).toBe(user.user.id);
    // ioredis has failed to reconnect several times by now (every ≤ 1 s): still one warning.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(redisWarnings(gw)).toHaveLength(1);

    await redis.start();
    await untilRateLimits(gw, 'redis');
    expect(await readyz(gw)).toEqual({ status: 200, body: { status: 'ready', rateLimits: 'redis', degraded: false } });
    expect(await rateLimitGauge(gw)).toEqual({ redis: 1, memory: 0, 'memory-fallback': 0, 'redis-down': 0 });
    // Counted in Redis again: a fresh email's failures land there and block the 4th attempt.
    const email = uniqueEmail('outage');
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect(codeOf(await gw.gql(LoginDocument, { email, password: `wrong-${attempt}` })), `attempt ${attempt}`).toBe(
        'INVALID_CREDENTIALS',
      );
    }
    expect(codeOf(await gw.gql(LoginDocument, { email, password: PASSWORD }))).toBe('RATE_LIMITED');
    const client = redis.client();
    try {
      const keys = await client.keys(`${gw.config.rateLimit.prefix}:loginEmailIp:*`);
      expect(keys).toHaveLength(1);
      expect(await client.get(keys[0]!)).toBe('3');
    } finally {
      client.disconnect();
    }
    expect((await gw.gql(MeDocument, {}, { token: user.accessToken })).data?.me.id).toBe(user.user.id);
    expect(redisWarnings(gw)).toHaveLength(1);
    await gw.close();
    gw = undefined;
  });

  it('a Redis that keeps the connection but stops answering counts as down within seconds: /readyz says so, logins do not wait on it, recovery is automatic', async () => {
    gw = await start({});
    const user = await signUp(gw);
    redis.pause();
    try {
      await untilRateLimits(gw, 'memory-fallback');
      expect(redisWarnings(gw)).toHaveLength(1);
      // Not asked while it does not answer: no command timeout (300 ms) per counter, let alone two.
      const started = performance.now();
      expect(codeOf(await gw.gql(LoginDocument, { email: user.email, password: 'wrong-1' }))).toBe('INVALID_CREDENTIALS');
      const elapsed = performance.now() - started;
      expect(elapsed).toBeLessThan(QUICK_MS);
      const login = await gw.gql(LoginDocument, { email: user.email, password: PASSWORD });
      expect(login.data?.login.__typename).toBe('AuthPayload');
    } finally {
      redis.resume();
    }
    await untilRateLimits(gw, 'redis');
    expect(gw.logs.join('')).toContain('Redis is back');
    expect(redisWarnings(gw)).toHaveLength(1);
    await gw.close();
    gw = undefined;
  });

  it('RATE_LIMIT_FAIL=closed: credential operations answer SERVICE_UNAVAILABLE, others keep working, recovery is automatic', async () => {
    gw = await start({ RATE_LIMIT_FAIL: 'closed' });
    const user = await signUp(gw);

    await redis.stop();
    await untilRateLimits(gw, 'redis-down');
    expect(await readyz(gw)).toEqual({ status: 200, body: { status: 'ready', rateLimits: 'redis-down', degraded: true } });
    expectUnavailable(await timed(() => gw!.gql(LoginDocument, { email: user.email, password: PASSWORD })));
    expectUnavailable(await timed(() => gw!.gql(RegisterDocument, { email: uniqueEmail('closed'), password: PASSWORD })));
    expectUnavailable(await timed(() => gw!.gql(RefreshDocument, { refreshToken: user.refreshToken })));
    const me = await timed(() => gw!.gql(MeDocument, {}, { token: user.accessToken }));
    expect(me.data?.me.id).toBe(user.user.id);
    expect(gw.logs.join('')).not.toMatch(/unexpected error/);
    expect(redisWarnings(gw)).toHaveLength(1);

    await redis.start();
    await untilRateLimits(gw, 'redis');
    const login = await gw.gql(LoginDocument, { email: user.email, password: PASSWORD });
    expect(login.data?.login.__typename).toBe('AuthPayload');
    expect((await gw.gql(RegisterDocument, { email: uniqueEmail('closed'), password: PASSWORD })).data?.register).toBe(true);
    // The refused refresh spent nothing: the same token still rotates.
    const refreshed = await gw.gql(RefreshDocument, { refreshToken: user.refreshToken });
    expect(refreshed.errors).toBeUndefined();
    expect(refreshed.data?.refresh.user.id).toBe(user.user.id);
    await gw.close();
    gw = undefined;
  });

  it('gives a point taken by the insurance back to the insurance, not to Redis, when Redis has returned by the refund', async () => {
    const connection = connectRedis(redis.url, createLogger('silent'));
    try {
      expect(await connection.ready(5000)).toBe(true);
      const prefix = `refund-store-${Date.now()}`;
      const store = storeOn(connection, prefix, { registerIp: { points: 5, duration: 60 } }, 'insurance');
      const redisCount = async () => Number(await connection.client.get(`${prefix}:registerIp:k`));
      expect((await store.consume('registerIp', 'k')).store).toBe('shared');
      const sharedPoint = await store.consume('registerIp', 'k');
      expect(await redisCount()).toBe(2);

      await redis.stop();
      await within(5000, () => !connection.healthy());
      const localPoint = await store.consume('registerIp', 'k');
      expect(localPoint).toMatchObject({ allowed: true, consumed: 1, store: 'local' });
      // Back with its counters and their expiry, as a Redis that persists them would be (this one keeps nothing).
      await redis.start();
      expect(await connection.ready(5000)).toBe(true);
      await connection.client.set(`${prefix}:registerIp:k`, 2, 'PX', Math.floor(sharedPoint.windowEndsAt - performance.now()));

      await store.refund('registerIp', 'k', localPoint);
      expect(await redisCount()).toBe(2); // Redis never had that point
      await redis.stop();
      await within(5000, () => !connection.healthy());
      const again = await store.consume('registerIp', 'k');
      expect(again.consumed).toBe(1); // the insurance got it back
      await store.refund('registerIp', 'k', again);
      await redis.start();
      expect(await connection.ready(5000)).toBe(true);
      await connection.client.set(`${prefix}:registerIp:k`, 2, 'PX', Math.floor(sharedPoint.windowEndsAt - performance.now()));
      await store.refund('registerIp', 'k', sharedPoint);
      expect(await redisCount()).toBe(1);

      // A Redis that does not answer in time while its connection still looks well may run the
      // take once it does, and past the limit would refuse it: the insurance, which has counted
      // nothing of this window, does not grant it in its place. Refused, and it stays spent there.
      redis.pause();
      await expect(store.consume('registerIp', 'k')).rejects.toBeInstanceOf(ServiceUnavailableError);
      redis.resume();
      await within(5000, async () => (await redisCount()) === 2); // it ran the command after all
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await redisCount()).toBe(2);
    } finally {
      redis.resume();
      await connection.close();
    }
  });

  it('RATE_LIMIT_FAIL=closed: a take that timed out stays spent should Redis run it late: nothing gives back what may not have run', async () => {
    const connection = connectRedis(redis.url, createLogger('silent'));
    try {
      expect(await connection.ready(5000)).toBe(true);
      const prefix = `closed-late-${Date.now()}`;
      const store = storeOn(connection, prefix, { loginAccount: { points: 5, duration: 60 } }, 'closed');
      redis.pause();
      await expect(store.consume('loginAccount', 'k')).rejects.toBeInstanceOf(ServiceUnavailableError);
      redis.resume();
      const key = `${prefix}:loginAccount:k`;
      await within(5000, async () => (await connection.client.exists(key)) === 1); // it ran the take after all
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(Number(await connection.client.get(key))).toBe(1);
    } finally {
      redis.resume();
      await connection.close();
    }
  });

  it('RATE_LIMIT_FAIL=closed: a reset while Redis is known not to answer fails, never a silent success', async () => {
    const connection = connectRedis(redis.url, createLogger('silent'));
    try {
      expect(await connection.ready(5000)).toBe(true);
      const store = storeOn(connection, `closed-reset-${Date.now()}`, { loginAccount: { points: 5, duration: 60 } }, 'closed', { redisAnswers: () => false });
      await expect(store.reset('loginAccount', 'k')).rejects.toBeInstanceOf(ServiceUnavailableError);
    } finally {
      await connection.close();
    }
  });

  it('a reset that Redis takes clears what the insurance counted too: the next outage starts from nothing', async () => {
    const connection = connectRedis(redis.url, createLogger('silent'));
    try {
      expect(await connection.ready(5000)).toBe(true);
      let answers = false;
      const store = storeOn(connection, `insured-reset-${Date.now()}`, { registerIp: { points: 2, duration: 60 } }, 'insurance', { redisAnswers: () => answers });
      for (let i = 0; i < 2; i++) expect(await store.consume('registerIp', 'k')).toMatchObject({ allowed: true, store: 'local' });
      answers = true; // Redis is back: a successful login, an unblock
      await store.reset('registerIp', 'k');
      answers = false; // and away again
      expect(await store.consume('registerIp', 'k')).toMatchObject({ allowed: true, store: 'local', consumed: 1 });
    } finally {
      await connection.close();
    }
  });

  it('counts a take Redis refused with an error reply (OOM) as the insurance\'s alone: Redis never ran it', async () => {
    const connection = connectRedis(redis.url, createLogger('silent'));
    const admin = redis.client();
    try {
      expect(await connection.ready(5000)).toBe(true);
      const prefix = `refused-${Date.now()}`;
      const store = storeOn(connection, prefix, { registerIp: { points: 5, duration: 60 } }, 'insurance');
      const redisCount = async () => Number(await admin.get(`${prefix}:registerIp:k`));
      await store.consume('registerIp', 'k');
      await store.consume('registerIp', 'k');
      await admin.config('SET', 'maxmemory', '1'); // noeviction: every write is refused (OOM)
      let refused;
      try {
        refused = await store.consume('registerIp', 'k');
      } finally {
        await admin.config('SET', 'maxmemory', '0');
      }
      expect(refused).toMatchObject({ allowed: true, store: 'local' });
      await store.refund('registerIp', 'k', refused);
      expect(await redisCount()).toBe(2);
    } finally {
      admin.disconnect();
      await connection.close();
    }
  });

  it('RATE_LIMIT_FAIL=closed: a give-back Redis refuses (OOM) is dropped, the point stays spent, and the refused attempt still answers RATE_LIMITED', async () => {
    const connection = connectRedis(redis.url, createLogger('silent'));
    const admin = redis.client();
    try {
      expect(await connection.ready(5000)).toBe(true);
      const prefix = `refund-refused-${Date.now()}`;
      const limits = limitsWith({ registerIp: { points: 1, duration: 60 } });
      const store = new RateLimiterCounterStore({ prefix, rules: rulesOf(limits), redis: connection.client, onRedisFailure: 'closed' });
      const key = clientKey('198.51.100.7');
      expect((await store.consume('registerIp', key)).allowed).toBe(true);
      // Refused, the registration gives back the point its refusal took: Redis refuses that write.
      beforeNextCall(store, 'refund', () => admin.config('SET', 'maxmemory', '1')); // noeviction: every write is refused (OOM)
      let outcome: unknown;
      try {
        outcome = await new Throttle(store, limits).register('198.51.100.7').catch((error: unknown) => error);
      } finally {
        await admin.config('SET', 'maxmemory', '0');
      }
      expect(outcome).toBeInstanceOf(RateLimitedError);
      expect(Number(await admin.get(`${prefix}:registerIp:${key}`))).toBe(2);
    } finally {
      admin.disconnect();
      await connection.close();
    }
  });

  it('a process too busy to read Redis\'s answers in time grants no budget of the insurance\'s: such takes are refused', async () => {
    // Through a relay in this process: while the event loop is busy, no answer comes back.
    const relay = await relayTo(redis.port);
    const connection = connectRedis(relay.url, createLogger('silent'));
    try {
      expect(await connection.ready(5000)).toBe(true);
      const prefix = `busy-${Date.now()}`;
      const store = storeOn(connection, prefix, { mfaUser: { points: 5, duration: 600 } }, 'insurance', { redisAnswers: connection.healthy });
      for (let i = 0; i < 5; i++) expect(await store.consume('mfaUser', 'u')).toMatchObject({ allowed: true, store: 'shared' });
      // A flood of requests keeps the event loop busy past the command timeout (300 ms), while
      // the answers to these takes wait unread: each would otherwise be counted afresh in memory.
      const takes = Array.from({ length: 5 }, () => store.consume('mfaUser', 'u'));
      await new Promise((resolve) => setImmediate(resolve)); // sent
      busyFor(500);
      const outcomes = await Promise.allSettled(takes);
      expect(outcomes.filter((o) => o.status === 'fulfilled' && o.value.allowed)).toEqual([]);
      expect(outcomes.some((o) => o.status === 'rejected')).toBe(true); // they did time out
      for (const o of outcomes) {
        if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(ServiceUnavailableError);
      }
      expect(await store.consume('mfaUser', 'u')).toMatchObject({ allowed: false, store: 'shared' });
    } finally {
      await connection.close();
      await relay.close();
    }
  }, 20_000);

  it('a PING whose answer came while the process was too busy to read it in time was answered; one Redis leaves unanswered was not', async () => {
    const connection = connectRedis(redis.url, createLogger('silent'));
    try {
      expect(await connection.ready(5000)).toBe(true);
      // Sent after this turn's poll phase, then busy past the timeout: the timeout fires before
      // the answer, already here, is read.
      await new Promise((resolve) => setImmediate(resolve));
      const answered = pingAnswered(connection.client);
      busyFor(450);
      expect(await answered).toBe(true);
      redis.pause();
      try {
        expect(await pingAnswered(connection.client)).toBe(false);
      } finally {
        redis.resume();
      }
    } finally {
      await connection.close();
    }
  });

  it('an error reply to a PING (a Redis user without PING) is an answer, read late or not', async () => {
    const admin = redis.client();
    const user = `noping${Date.now()}`;
    await admin.call('ACL', 'SETUSER', user, 'on', '>pw', '~*', '+@all', '-ping');
    const connection = connectRedis(`redis://${user}:pw@127.0.0.1:${redis.port}`, createLogger('silent'));
    try {
      expect(await connection.ready(5000)).toBe(true);
      expect(await pingAnswered(connection.client)).toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
      const answered = pingAnswered(connection.client);
      busyFor(450);
      expect(await answered).toBe(true);
    } finally {
      await connection.close();
      await admin.call('ACL', 'DELUSER', user);
      admin.disconnect();
    }
  });

  it('with the process busy past the timeout after every PING, Redis counts as up while it answers, and as away once it stops', async () => {
    const connection = connectRedis(redis.url, createLogger('silent'));
    try {
      expect(await connection.ready(5000)).toBe(true);
      // The process gets busy (a flood of requests) right after each PING has gone out, past its
      // 300 ms timeout.
      const stream = connection.client.stream;
      const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
      stream.write = ((...args: unknown[]) => {
        const written = write(...args);
        if (/ping/i.test(String(args[0]))) busyFor(450);
        return written;
      }) as typeof stream.write;
      const samples = async (ms: number) => {
        const seen: boolean[] = [];
        for (const until = performance.now() + ms; performance.now() < until; ) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          seen.push(connection.healthy());
        }
        return seen;
      };
      expect((await samples(4000)).every(Boolean)).toBe(true);
      redis.pause();
      try {
        expect((await samples(6000)).at(-1)).toBe(false);
      } finally {
        redis.resume();
      }
    } finally {
      await connection.close();
    }
  }, 20_000);

  it('a Redis that answers, but slower than the command timeout, is found away, however much else it answers late: the insurance then counts', async () => {
    const relay = await relayTo(redis.port);
    const connection = connectRedis(relay.url, createLogger('silent'));
    try {
      expect(await connection.ready(5000)).toBe(true);
      const store = storeOn(connection, `slow-${Date.now()}`, { registerIp: { points: 100, duration: 60 } }, 'insurance', { redisAnswers: connection.healthy });
      relay.delayReplies(500);
      // Takes keep coming (and their late answers with them); each is refused until Redis counts as away.
      const outcomes: string[] = [];
      for (const until = performance.now() + 8000; performance.now() < until && connection.healthy(); ) {
        outcomes.push(await store.consume('registerIp', 'k').then((taken) => taken.store, () => 'refused'));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(connection.healthy()).toBe(false);
      expect(outcomes).toContain('refused');
      expect((await store.consume('registerIp', 'k')).store).toBe('local');
    } finally {
      relay.delayReplies(0);
      await connection.close();
      await relay.close();
    }
  }, 20_000);

  it('a take Redis did not answer goes to the insurance when Redis has been found away meanwhile', async () => {
    const connection = connectRedis(redis.url, createLogger('silent'));
    try {
      expect(await connection.ready(5000)).toBe(true);
      let answers = true;
      const store = storeOn(connection, `found-away-${Date.now()}`, { registerIp: { points: 5, duration: 60 } }, 'insurance', { redisAnswers: () => answers });
      redis.pause();
      try {
        const take = store.consume('registerIp', 'k');
        await new Promise((resolve) => setTimeout(resolve, 100));
        answers = false; // the stall watch found it away while the take waited
        expect(await take).toMatchObject({ allowed: true, store: 'local' });
      } finally {
        redis.resume();
      }
    } finally {
      await connection.close();
    }
  });

  it('while Redis is known not to answer, neither takes nor give-backs nor resets wait for it, or are sent to run at some later time', async () => {
    const connection = connectRedis(redis.url, createLogger('silent'));
    const admin = redis.client();
    try {
      expect(await connection.ready(5000)).toBe(true);
      const prefix = `stalled-${Date.now()}`;
      const store = storeOn(connection, prefix, { registerIp: { points: 5, duration: 60 } }, 'insurance', { redisAnswers: connection.healthy });
      const shared = [await store.consume('registerIp', 'k'), await store.consume('registerIp', 'k'), await store.consume('registerIp', 'reset')];
      expect(shared.map((point) => point.store)).toEqual(['shared', 'shared', 'shared']);
      redis.pause();
      try {
        await within(5000, () => !connection.healthy());
        const quick = async (step: () => Promise<unknown>) => {
          const started = performance.now();
          await step();
          expect(performance.now() - started).toBeLessThan(200); // a command timeout is 300 ms
        };
        await quick(async () => expect((await store.consume('registerIp', 'k')).store).toBe('local'));
        await quick(() => store.refund('registerIp', 'k', shared[0]!));
        await quick(() => store.reset('registerIp', 'reset'));
      } finally {
        redis.resume();
      }
      await within(5000, () => connection.healthy());
      // Neither was sent: the points stay spent until their window ends.
      expect(Number(await admin.get(`${prefix}:registerIp:k`))).toBe(2);
      expect(await admin.exists(`${prefix}:registerIp:reset`)).toBe(1);
      await store.refund('registerIp', 'k', shared[1]!); // answering again: given back
      expect(Number(await admin.get(`${prefix}:registerIp:k`))).toBe(1);
    } finally {
      admin.disconnect();
      await connection.close();
    }
  });

  it('does not send a command again after a reconnection once its promise has failed: a late reset would wipe counters built up since', async () => {
    const connection = connectRedis(redis.url, createLogger('silent'));
    try {
      // ioredis resends unanswered commands on reconnecting by default, whatever became of them.
      expect(connection.client.options.autoResendUnfulfilledCommands).toBe(false);
    } finally {
      await connection.close();
    }
  });
});

describe.skipIf(!binary)('a connection that died without closing (a NAT that forgot it)', () => {
  it('counts as down within seconds, and is made anew after ten unanswered PINGs', async () => {
    const redis = await throwawayRedis(binary!);
    await redis.start();
    const relay = await relayTo(redis.port);
    const lines: string[] = [];
    const logger = createLogger('warn', { write: (line: string) => void lines.push(line) });
    const connection = connectRedis(relay.url, logger);
    try {
      expect(await connection.ready(5000)).toBe(true);
      const until = async (healthy: boolean, withinMs: number) => {
        const deadline = Date.now() + withinMs;
        while (connection.healthy() !== healthy && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
        return connection.healthy();
      };
      expect(await until(true, 3000)).toBe(true);
      relay.blackhole();
      expect(await until(false, 4000)).toBe(false); // two PINGs unanswered
      // Without a new connection it would stay deaf until TCP keep-alive gives up (hours).
      expect(await until(true, 20_000)).toBe(true);
      expect(await connection.client.ping()).toBe('PONG');
      expect(lines.some((line) => line.includes('connecting anew'))).toBe(true);
    } finally {
      await connection.close();
      await relay.close();
      await redis.stop();
    }
  }, 40_000);
});

