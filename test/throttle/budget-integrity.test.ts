// Rule: no timing of requests gets more password checks than the limits allow: a burst across
// many addresses gets exactly LOGIN_LIMIT_ACCOUNT checks, refunds that land after a window ended
// add no budget, and a Redis that stops answering (but keeps the connection) cannot hang logins.
// Nor does a store error or a shed cost budget: an attempt refused by it gets its points back,
// and the account back-off gate it was let through by.
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { clientKey, emailKey, Throttle } from '../../src/domain/throttle';
import { InvalidCredentialsError, RateLimitedError, ServiceUnavailableError } from '../../src/errors';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { LoginDocument } from '../gql/graphql';
import { codeOf, signUp } from '../helpers/fixtures';
import { counterStoreKinds, limitsWith, type OpenedStore } from '../helpers/counter-stores';
import { createTestDatabase, startGateway, type TestDatabase, type TestGateway } from '../helpers/gateway';
import { redisServerBinary, throwawayRedis, type ThrowawayRedis } from '../helpers/throwaway-redis';

/** The answers of `times` takes, one after another, from one registerIp counter. */
async function allowedOf(store: OpenedStore['store'], key: string, times: number) {
  const answers: boolean[] = [];
  for (let i = 0; i < times; i++) answers.push((await store.consume('registerIp', key)).allowed);
  return answers;
}

if (!process.env.REDIS_URL) console.log('budget-integrity: the Redis store variants are skipped, REDIS_URL unset');

describe.each(counterStoreKinds())('on the $name store', (kind) => {
  let opened: OpenedStore;
  afterAll(() => opened?.close());

  it('lets a burst from 20 addresses make exactly LOGIN_LIMIT_ACCOUNT checks, not one per address', async () => {
    const limits = limitsWith({ loginAccount: { points: 3, duration: 3600 } });
    opened = await kind.open(limits);
    const throttle = new Throttle(opened.store, limits);
    let checks = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        throttle
          .guardLogin('burst@example.test', `198.51.100.${i + 1}`, (e) => e instanceof InvalidCredentialsError, async () => {
            checks++;
            throw new InvalidCredentialsError();
          })
          .catch((e: unknown) => e),
      ),
    );
    expect(checks).toBe(3);
    expect(results.filter((r) => r instanceof InvalidCredentialsError)).toHaveLength(3);
    expect(results.filter((r) => r instanceof RateLimitedError)).toHaveLength(17);
  });

  it('never takes a counter below zero: a point given back twice adds no budget', async () => {
    const limits = limitsWith({ registerIp: { points: 2, duration: 60 } });
    const own = await kind.open(limits);
    try {
      const point = await own.store.consume('registerIp', 'twice');
      await own.store.refund('registerIp', 'twice', point);
      await own.store.refund('registerIp', 'twice', point);
      // Nor does it leave the counter without its expiry (a window that never ends).
      if (own.redis) {
        const ttl = await own.redis.client.pttl(own.redis.key('registerIp', 'twice'));
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(60_000);
      }
      expect(await allowedOf(own.store, 'twice', 3)).toEqual([true, true, false]);
    } finally {
      await own.close();
    }
  });

  it('creates no counter when it gives back to one reset meanwhile', async () => {
    const limits = limitsWith({ registerIp: { points: 2, duration: 1 } });
    const own = await kind.open(limits);
    try {
      const point = await own.store.consume('registerIp', 'reset');
      await own.store.reset('registerIp', 'reset');
      await own.store.refund('registerIp', 'reset', point);
      if (own.redis) expect(await own.redis.client.exists(own.redis.key('registerIp', 'reset'))).toBe(0);
      expect(await allowedOf(own.store, 'reset', 3)).toEqual([true, true, false]);
    } finally {
      await own.close();
    }
  });

  it('adds no budget when refunds land after the window ended', async () => {
    const store = (await kind.open(limitsWith({ registerIp: { points: 2, duration: 1 } }))).store;
    const key = `late-${kind.name}`;
    const taken = await store.consume('registerIp', key);
    expect(taken.allowed).toBe(true);
    expect((await store.consume('registerIp', key)).allowed).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the window ends
    for (let i = 0; i < 5; i++) await store.refund('registerIp', key, taken);
    expect(await allowedOf(store, key, 3)).toEqual([true, true, false]);
  });

  it('gives nothing to the next window when a refund lands after its own ended', async () => {
    const store = (await kind.open(limitsWith({ registerIp: { points: 2, duration: 2 } }))).store;
    const key = `next-window-${kind.name}`;
    const first = await store.consume('registerIp', key);
    await new Promise((resolve) => setTimeout(resolve, 2100)); // its window ends
    expect((await store.consume('registerIp', key)).consumed).toBe(1); // the next window's first point
    await store.refund('registerIp', key, first);
    expect(await allowedOf(store, key, 2)).toEqual([true, false]);
  });

  it('gives nothing back once the window has passed, even before the store has noticed', async () => {
    const store = (await kind.open(limitsWith({ registerIp: { points: 2, duration: 1 } }))).store;
    const key = `passed-${kind.name}`;
    const first = await store.consume('registerIp', key);
    expect((await store.consume('registerIp', key)).allowed).toBe(true);
    const busyUntil = performance.now() + 1050; // the window passes with no timer run (memory keys expire by timer)
    while (performance.now() < busyUntil);
    await store.refund('registerIp', key, first);
    expect(await allowedOf(store, key, 3)).toEqual([true, true, false]);
  });

  it('gives nothing to a window made since, shorter or longer or as long (a back-off gate reset and reopened)', async () => {
    const store = (await kind.open(limitsWith({}))).store;
    // Seconds of the first window and of the one made since; how long after the refusal.
    for (const [first, then, afterMs] of [[900, 60, 0], [60, 900, 0], [5, 2, 0], [60, 60, 1000]] as const) {
      const key = `reopened-${first}-${then}-${afterMs}-${kind.name}`;
      expect((await store.consume('accountBackoff', key, first)).allowed).toBe(true);
      const refused = await store.consume('accountBackoff', key, first);
      expect(refused.allowed).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, afterMs));
      await store.reset('accountBackoff', key);
      expect((await store.consume('accountBackoff', key, then)).allowed).toBe(true); // reopened: its one point
      await store.refund('accountBackoff', key, refused);
      expect((await store.consume('accountBackoff', key, then)).allowed, `${first} s, then ${then} s`).toBe(false);
    }
  });

  /** Attempts on one account whose LOGIN_LIMIT_ACCOUNT is 2; each answers what it threw or was refused with. */
  async function accountAtTwo(name: string) {
    const limits = limitsWith({ loginAccount: { points: 2, duration: 3600 } });
    const gated = await kind.open(limits);
    onTestFinished(() => gated.close());
    const throttle = new Throttle(gated.store, limits);
    const email = `${name}-${kind.name}@example.test`;
    const isFailure = (e: unknown) => e instanceof InvalidCredentialsError;
    return (check: () => Promise<never>) => throttle.guardLogin(email, '198.51.100.9', isFailure, check).catch((e: unknown) => e);
  }

  it('gives the back-off gate back too when the attempt it let through is not checked (shed)', async () => {
    const attempt = await accountAtTwo('shed-gate');
    // One failure: the next attempt reaches LOGIN_LIMIT_ACCOUNT, so it takes the gate.
    expect(await attempt(async () => Promise.reject(new InvalidCredentialsError()))).toBeInstanceOf(InvalidCredentialsError);
    // The gate lets this one through, but hashing is saturated: no password is checked.
    expect(await attempt(async () => Promise.reject(new ServiceUnavailableError()))).toBeInstanceOf(ServiceUnavailableError);
    // Nothing was checked since the failure, so the next attempt is let through and checked.
    let checked = false;
    const next = await attempt(async () => {
      checked = true;
      throw new InvalidCredentialsError();
    });
    expect(next).toBeInstanceOf(InvalidCredentialsError);
    expect(checked).toBe(true);
    // ...and that failure closes the gate: the back-off holds.
    expect(await attempt(async () => Promise.reject(new InvalidCredentialsError()))).toBeInstanceOf(RateLimitedError);
  });

  it('gives the back-off gate back when the attempt it let through is shed while another was refused by it', async () => {
    const attempt = await accountAtTwo('overlap-gate');
    expect(await attempt(async () => Promise.reject(new InvalidCredentialsError()))).toBeInstanceOf(InvalidCredentialsError);
    // A is let through by the gate; while its check is under way, B is refused by the gate.
    let shed!: () => void;
    const a = attempt(() => new Promise<never>((_, reject) => (shed = () => reject(new ServiceUnavailableError()))));
    while (!shed) await new Promise((resolve) => setTimeout(resolve, 1));
    expect(await attempt(async () => Promise.reject(new InvalidCredentialsError()))).toBeInstanceOf(RateLimitedError);
    shed(); // A is shed: no password was checked since the failure
    expect(await a).toBeInstanceOf(ServiceUnavailableError);
    let checked = false;
    await attempt(async () => {
      checked = true;
      throw new InvalidCredentialsError();
    });
    expect(checked).toBe(true);
  });
});

describe.skipIf(!process.env.REDIS_URL)('on the Redis store, RATE_LIMIT_FAIL=closed', () => {
  let opened: OpenedStore;
  afterAll(() => opened?.close());

  /**
   * A login while the counter `poisoned` is a key Redis cannot count (a list: WRONGTYPE) is
   * refused SERVICE_UNAVAILABLE without checking the password.
   */
  async function expectRefusedUnchecked(store: OpenedStore, limits: ReturnType<typeof limitsWith>, email: string, ip: string, poisoned: string) {
    await store.redis!.client.rpush(poisoned, 'not a counter');
    let checked = false;
    const outcome = await new Throttle(store.store, limits)
      .guardLogin(email, ip, (e) => e instanceof InvalidCredentialsError, async () => {
        checked = true;
        throw new InvalidCredentialsError();
      })
      .catch((e: unknown) => e)
      // A list has no expiry of its own: the shared Redis would keep it after the run.
      .finally(() => store.redis!.client.del(poisoned));
    expect(outcome).toBeInstanceOf(ServiceUnavailableError);
    expect(checked).toBe(false);
  }

  it('gives the points back when the back-off gate cannot be read after they were taken', async () => {
    // Past LOGIN_LIMIT_ACCOUNT every attempt asks the gate; a gate key Redis cannot count (a list,
    // WRONGTYPE) fails that one command while the three counters before it succeeded.
    const limits = limitsWith({ loginAccount: { points: 1, duration: 3600 } });
    opened = await (counterStoreKinds().find((k) => k.name === 'redis')!).open(limits);
    const { client, key } = opened.redis!;
    const email = 'gate@example.test';
    const ip = '198.51.100.7';
    await expectRefusedUnchecked(opened, limits, email, ip, key('accountBackoff', emailKey(email)));
    // The same connection: these reads run after the refunds were sent.
    const counts = await Promise.all([
      client.get(key('loginEmailIp', `${emailKey(email)}:${clientKey(ip)}`)),
      client.get(key('loginIp', clientKey(ip))),
      client.get(key('loginAccount', emailKey(email))),
    ]);
    expect(counts).toEqual(['0', '0', '0']);
  });

  it('gives the other points back when one counter cannot be taken', async () => {
    const limits = limitsWith({});
    const own = await (counterStoreKinds().find((k) => k.name === 'redis')!).open(limits);
    try {
      const { client, key } = own.redis!;
      const email = 'counter@example.test';
      const ip = '198.51.100.8';
      await expectRefusedUnchecked(own, limits, email, ip, key('loginIp', clientKey(ip)));
      const counts = await Promise.all([client.get(key('loginEmailIp', `${emailKey(email)}:${clientKey(ip)}`)), client.get(key('loginAccount', emailKey(email)))]);
      expect(counts).toEqual(['0', '0']);
    } finally {
      await own.close();
    }
  });
});

const binary = redisServerBinary();
describe.skipIf(!binary)('a Redis that accepts connections but does not answer', () => {
  let redis: ThrowawayRedis;
  let database: TestDatabase;
  let gw: TestGateway;
  beforeAll(async () => {
    [redis, database] = await Promise.all([throwawayRedis(binary!), createTestDatabase()]);
    await redis.start();
    gw = await startGateway({
      database: database.database,
      encryptionKeys: generateEncryptionKeyEntry('test'),
      env: { REDIS_URL: redis.url, LOGIN_LIMIT_EMAIL_IP: '2/60' },
    });
  });
  afterAll(async () => {
    redis?.resume();
    await gw?.close();
    await redis?.stop();
    await database?.drop();
  });

  it('answers within a second: refused while Redis may still have counted (nothing checked), then from the in-memory fallback, still limiting', async () => {
    const { email } = await signUp(gw);
    redis.pause();
    const attempt = async () => {
      const started = performance.now();
      const code = codeOf(await gw.gql(LoginDocument, { email, password: 'Wrong-Password-1!' }));
      expect(performance.now() - started).toBeLessThan(1500);
      return code;
    };
    // Before the PINGs find Redis away (two unanswered, about two seconds), a take it does not
    // answer in time may still be counted there: refused, and no password is checked.
    expect(await attempt()).toBe('SERVICE_UNAVAILABLE');
    const away = () => gw.logs.some((line) => line.includes('Redis unavailable'));
    for (const deadline = Date.now() + 5000; !away() && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(away()).toBe(true);
    const codes = [await attempt(), await attempt(), await attempt()];
    expect(codes).toEqual(['INVALID_CREDENTIALS', 'INVALID_CREDENTIALS', 'RATE_LIMITED']);
    redis.resume();
  });
});
