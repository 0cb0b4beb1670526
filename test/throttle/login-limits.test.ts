// Rule: failed password checks are limited per (email, IP), per IP and per account (back-off 60 s doubling to 900 s); while blocked no password is checked, and an unknown email counts the same.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { emailKey, Throttle } from '../../src/domain/throttle';
import { InvalidCredentialsError, RateLimitedError } from '../../src/errors';
import { ChangePasswordDocument, LoginDocument, RegisterDocument } from '../gql/graphql';
import { clientAt, sleep } from '../helpers/client-address';
import { counterStoreKinds, limitsWith, type OpenedStore } from '../helpers/counter-stores';
import { codeOf, PASSWORD, signUp, spellingsOf, uniqueAccentedEmail, uniqueEmail } from '../helpers/fixtures';
import { createTestDatabase, startGateway, type GqlResult, type TestDatabase, type TestGateway } from '../helpers/gateway';
import { childEnv, createNamedDatabase, runTsx, type NamedDatabase } from '../helpers/processes';
import type { Database } from '../../src/storage/postgres';

const WRONG = 'Wrong-Guess-4242!';
const redisUrl = process.env.REDIS_URL;

/** Asserts RATE_LIMITED as the client sees it and returns retryAfter. */
function expectLimited(result: GqlResult<unknown>, min: number, max: number): number {
  expect(codeOf(result)).toBe('RATE_LIMITED');
  expect(result.status).toBe(200);
  const retryAfter = result.errors![0]!.extensions.retryAfter as number;
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(min);
  expect(retryAfter).toBeLessThanOrEqual(max);
  expect(result.headers.get('retry-after')).toBe(String(retryAfter));
  return retryAfter;
}

const loginAt = (gw: TestGateway, ip: string, email: string, password: string) =>
  clientAt(gw, ip)(LoginDocument, { email, password });

const expectLoggedIn = (result: GqlResult<{ login: { __typename: string } }>) => {
  expect(result.errors).toBeUndefined();
  expect(result.data?.login.__typename).toBe('AuthPayload');
};

// One database for the file's gateways (emails are unique): a PGlite start migrates from scratch.
let shared: TestDatabase;
beforeAll(async () => {
  shared = await createTestDatabase();
});
afterAll(() => shared?.drop());
const KEYS = generateEncryptionKeyEntry('throttle');
const start = (env: Record<string, string>) => startGateway({ database: shared.database, encryptionKeys: KEYS, env });

const codesAndMessages = (results: GqlResult<unknown>[]) =>
  results.map((r) => [codeOf(r), r.errors?.[0]?.message] as const);

describe('per (email, client IP), short window', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await start({ LOGIN_LIMIT_EMAIL_IP: '5/3' });
  });
  afterAll(() => gw?.close());

  it('blocks the 6th wrong password, the right one too, only from that IP, until the window ends', async () => {
    const { email } = await signUp(gw);
    // At once, so that the short window cannot run out under load before the 6th attempt.
    const failures = await Promise.all(Array.from({ length: 5 }, () => loginAt(gw, '127.0.0.1', email, WRONG)));
    expect(failures.map(codeOf)).toEqual(Array(5).fill('INVALID_CREDENTIALS'));
    const retryAfter = expectLimited(await loginAt(gw, '127.0.0.1', email, WRONG), 1, 3);
    const blockedAt = Date.now();
    expectLimited(await loginAt(gw, '127.0.0.1', email, PASSWORD), 1, 3);

    expectLoggedIn(await loginAt(gw, '127.0.0.2', email, PASSWORD));

    // retryAfter is rounded up: once it has passed, the window is over.
    await sleep(Math.max(0, blockedAt + retryAfter * 1000 + 100 - Date.now()));
    expectLoggedIn(await loginAt(gw, '127.0.0.1', email, PASSWORD));
  });
});

describe('per (email, client IP), long window', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await start({ LOGIN_LIMIT_EMAIL_IP: '5/60' });
  });
  afterAll(() => gw?.close());

  it('counts every spelling of one address in one bucket: other spellings give no fresh attempts', async () => {
    const { email } = await signUp(gw, uniqueAccentedEmail());
    const spellings = spellingsOf(email);
    expect(spellings).toHaveLength(5);
    for (const spelling of spellings) expect(codeOf(await loginAt(gw, '127.0.0.1', spelling, WRONG))).toBe('INVALID_CREDENTIALS');
    expectLimited(await loginAt(gw, '127.0.0.1', email, PASSWORD), 1, 60);
  });

  it("counts a wrong current password at changePassword in the account's (email, IP) budget, as a wrong login", async () => {
    const user = await signUp(gw);
    const changeAt = clientAt(gw, '127.0.0.5');
    for (let i = 0; i < 5; i++) {
      const result = await changeAt(ChangePasswordDocument, { currentPassword: WRONG, newPassword: 'Never-Set-Here-77!' }, { token: user.accessToken });
      expect(codeOf(result)).toBe('INVALID_CREDENTIALS');
    }
    expectLimited(await loginAt(gw, '127.0.0.5', user.email, PASSWORD), 1, 60);
    expectLoggedIn(await loginAt(gw, '127.0.0.6', user.email, PASSWORD));
  });

  it('a success resets the counter: 4 failures, a success, then 5 more failures before the block', async () => {
    const { email } = await signUp(gw);
    for (let i = 0; i < 4; i++) {
      expect(codeOf(await loginAt(gw, '127.0.0.3', email, WRONG))).toBe('INVALID_CREDENTIALS');
    }
    expectLoggedIn(await loginAt(gw, '127.0.0.3', email, PASSWORD));
    for (let i = 0; i < 5; i++) {
      expect(codeOf(await loginAt(gw, '127.0.0.3', email, WRONG))).toBe('INVALID_CREDENTIALS');
    }
    expectLimited(await loginAt(gw, '127.0.0.3', email, WRONG), 1, 60);
  });

  it('an email without an account is blocked after the same failures, with the same codes and messages', async () => {
    const { email } = await signUp(gw);
    const nobody = uniqueEmail('nobody');
    const known: GqlResult<unknown>[] = [];
    const unknown: GqlResult<unknown>[] = [];
    for (let i = 0; i < 6; i++) {
      known.push(await loginAt(gw, '127.0.0.4', email, WRONG));
      unknown.push(await loginAt(gw, '127.0.0.4', nobody, WRONG));
    }
    expect(codesAndMessages(known).map(([code]) => code)).toEqual([
      ...Array(5).fill('INVALID_CREDENTIALS'),
      'RATE_LIMITED',
    ]);
    expect(codesAndMessages(unknown)).toEqual(codesAndMessages(known));
    expectLimited(unknown[5]!, 1, 60);
  });

  it('20 concurrent wrong passwords: exactly 5 are checked, 15 are RATE_LIMITED', async () => {
    const { email } = await signUp(gw);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => loginAt(gw, '127.0.0.5', email, WRONG)),
    );
    const codes = results.map(codeOf);
    expect(codes.filter((c) => c === 'INVALID_CREDENTIALS')).toHaveLength(5);
    expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(15);
  });
});

describe('per client IP (LOGIN_LIMIT_IP)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await start({ LOGIN_LIMIT_IP: '4/60' });
  });
  afterAll(() => gw?.close());

  it('failures across different emails block the IP; another IP is unaffected', async () => {
    const { email } = await signUp(gw);
    for (let i = 0; i < 4; i++) {
      expect(codeOf(await loginAt(gw, '127.0.0.2', uniqueEmail('spray'), WRONG))).toBe('INVALID_CREDENTIALS');
    }
    expectLimited(await loginAt(gw, '127.0.0.2', uniqueEmail('spray'), WRONG), 1, 60);
    expectLimited(await loginAt(gw, '127.0.0.2', email, PASSWORD), 1, 60);

    expect(codeOf(await loginAt(gw, '127.0.0.3', uniqueEmail('spray'), WRONG))).toBe('INVALID_CREDENTIALS');
    expectLoggedIn(await loginAt(gw, '127.0.0.3', email, PASSWORD));
  });
});

describe('per account across IPs (LOGIN_LIMIT_ACCOUNT) and blocked attempts', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await start({ LOGIN_LIMIT_EMAIL_IP: '2/60', LOGIN_LIMIT_ACCOUNT: '3/60' });
  });
  afterAll(() => gw?.close());

  /** One wrong password from each address: the account's budget, not any (email, IP) one. */
  const failFrom = async (email: string, ips: string[]) => {
    for (const ip of ips) expect(codeOf(await loginAt(gw, ip, email, WRONG))).toBe('INVALID_CREDENTIALS');
  };

  it('3 failures from 3 IPs put the account in a 60 s back-off, for every IP and the right password', async () => {
    const { email } = await signUp(gw);
    await failFrom(email, ['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    for (const ip of ['127.0.0.5', '127.0.0.2', '127.0.0.1']) {
      expectLimited(await loginAt(gw, ip, email, PASSWORD), 55, 60);
    }
  });

  it('while blocked the password is not checked: refused attempts leave the account budget untouched', async () => {
    const { email } = await signUp(gw);
    await failFrom(email, ['127.0.0.6', '127.0.0.6']);
    for (let i = 0; i < 10; i++) expectLimited(await loginAt(gw, '127.0.0.6', email, WRONG), 1, 60);
    // Had any refused guess been checked, the account (3 failures) would now be in back-off.
    expectLoggedIn(await loginAt(gw, '127.0.0.7', email, PASSWORD));
  });

  if (!redisUrl) console.log('skipping the HTTP back-off doubling test: REDIS_URL unset (it expires the back-off key in Redis)');
  describe.skipIf(!redisUrl)('doubling (Redis)', () => {
    let redis: Redis;
    beforeAll(() => {
      redis = new Redis(redisUrl!);
    });
    afterAll(() => redis?.quit());

    it('after the back-off expires, one more failure doubles it to 120 s', async () => {
      const { email } = await signUp(gw);
      await failFrom(email, ['127.0.0.2', '127.0.0.3', '127.0.0.4']);
      expectLimited(await loginAt(gw, '127.0.0.5', email, PASSWORD), 55, 60);

      // Expire the back-off as time would: its key only (the account's failures remain counted).
      const key = `${gw.config.rateLimit.prefix}:accountBackoff:${emailKey(email)}`;
      expect(await redis.del(key)).toBe(1);
      await failFrom(email, ['127.0.0.8']);
      expectLimited(await loginAt(gw, '127.0.0.5', email, PASSWORD), 115, 120);
    });
  });
});

if (!redisUrl) console.log('skipping the Redis variant of the account back-off domain test: REDIS_URL unset');
describe.each(counterStoreKinds())('account back-off on the $name store (domain)', (kind) => {
  let opened: OpenedStore;
  let throttle: Throttle;
  beforeAll(async () => {
    const limits = limitsWith({ loginAccount: { points: 2, duration: 3600 } });
    opened = await kind.open(limits);
    throttle = new Throttle(opened.store, limits);
  });
  afterAll(() => opened?.close());

  it('starts at 60 s, doubles after each expiry and never exceeds 900 s', async () => {
    const email = uniqueEmail('backoff');
    let checks = 0;
    const attempt = (ip: string) =>
      throttle.guardLogin(email, ip, (e) => e instanceof InvalidCredentialsError, async () => {
        checks++;
        throw new InvalidCredentialsError();
      });
    const retryAfterOf = async () => {
      const before = checks;
      const error = await attempt('192.0.2.200').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RateLimitedError);
      expect(checks).toBe(before); // refused without a check
      return (error as RateLimitedError).retryAfter;
    };

    await expect(attempt('192.0.2.1')).rejects.toBeInstanceOf(InvalidCredentialsError);
    await expect(attempt('192.0.2.2')).rejects.toBeInstanceOf(InvalidCredentialsError);
    const seen = [await retryAfterOf()];
    for (let i = 0; i < 6; i++) {
      await opened.store.reset('accountBackoff', emailKey(email)); // the back-off expires
      await expect(attempt(`192.0.2.${10 + i}`)).rejects.toBeInstanceOf(InvalidCredentialsError);
      seen.push(await retryAfterOf());
    }
    const expected = [60, 120, 240, 480, 900, 900, 900];
    seen.forEach((s, i) => {
      expect(s).toBeGreaterThanOrEqual(expected[i]! - 2);
      expect(s).toBeLessThanOrEqual(expected[i]!);
    });
  });

  it('a right password let through the back-off opens it again: the next one is checked at once', async () => {
    const email = uniqueEmail('backoff-success');
    const isFailure = (e: unknown) => e instanceof InvalidCredentialsError;
    const fail = (ip: string) => throttle.guardLogin(email, ip, isFailure, () => Promise.reject(new InvalidCredentialsError()));
    const succeed = (ip: string) => throttle.guardLogin(email, ip, isFailure, async () => 'signed in');
    await expect(fail('192.0.2.31')).rejects.toBeInstanceOf(InvalidCredentialsError);
    await expect(fail('192.0.2.32')).rejects.toBeInstanceOf(InvalidCredentialsError);
    await expect(succeed('192.0.2.33')).rejects.toBeInstanceOf(RateLimitedError); // backing off
    await opened.store.reset('accountBackoff', emailKey(email)); // the window passes
    await expect(succeed('192.0.2.33')).resolves.toBe('signed in');
    // The account's failures still count, but a second device need not wait out a window.
    await expect(succeed('192.0.2.34')).resolves.toBe('signed in');
  });

  it('an operator unblock clears the account count and its back-off: the limit counts anew from zero', async () => {
    const email = uniqueEmail('unblock-domain');
    const fail = (ip: string) => throttle.guardLogin(email, ip, (e) => e instanceof InvalidCredentialsError, () => Promise.reject(new InvalidCredentialsError()));
    await expect(fail('192.0.2.51')).rejects.toBeInstanceOf(InvalidCredentialsError);
    await expect(fail('192.0.2.52')).rejects.toBeInstanceOf(InvalidCredentialsError); // takes the gate
    await expect(fail('192.0.2.53')).rejects.toBeInstanceOf(RateLimitedError);
    await throttle.unblockAccount(email, 'no-mfa-user');
    // LOGIN_LIMIT_ACCOUNT is 2 here: two failures are checked again, the second through a fresh gate.
    await expect(fail('192.0.2.54')).rejects.toBeInstanceOf(InvalidCredentialsError);
    await expect(fail('192.0.2.55')).rejects.toBeInstanceOf(InvalidCredentialsError);
    const refused = await fail('192.0.2.56').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect((refused as RateLimitedError).retryAfter).toBeGreaterThan(55); // 60 s: the back-off starts over
  });

  it('when several limits refuse, says to wait for the longest of them', async () => {
    const limits = limitsWith({ loginEmailIp: { points: 1, duration: 900 }, loginIp: { points: 1, duration: 5 } });
    const store = await kind.open(limits);
    try {
      const strict = new Throttle(store.store, limits);
      const email = uniqueEmail('longest-wait');
      const attempt = () => strict.guardLogin(email, '192.0.2.41', (e) => e instanceof InvalidCredentialsError, () => Promise.reject(new InvalidCredentialsError()));
      await expect(attempt()).rejects.toBeInstanceOf(InvalidCredentialsError);
      const refused = await attempt().catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(RateLimitedError);
      expect((refused as RateLimitedError).retryAfter).toBeGreaterThan(850);
    } finally {
      await store.close();
    }
  });
});

const withPostgresAndRedis = Boolean(redisUrl && process.env.DATABASE_URL);
if (!withPostgresAndRedis) console.log('skipping the `admin unblock` test: it needs REDIS_URL and DATABASE_URL');
describe.skipIf(!withPostgresAndRedis)('operator: npm run admin -- unblock <email>', () => {
  let named: NamedDatabase;
  let database: Database;
  let gw: TestGateway;
  beforeAll(async () => {
    named = await createNamedDatabase({ migrated: true });
    database = await named.open();
    gw = await startGateway({ database, env: { LOGIN_LIMIT_EMAIL_IP: '3/900', LOGIN_LIMIT_ACCOUNT: '3/900' } });
  });
  afterAll(async () => {
    await gw?.close();
    await database?.close();
    await named?.drop();
  });

  const block = async (email: string) => {
    for (let i = 0; i < 3; i++) {
      expect(codeOf(await loginAt(gw, '127.0.0.1', email, WRONG))).toBe('INVALID_CREDENTIALS');
    }
    expectLimited(await loginAt(gw, '127.0.0.1', email, PASSWORD), 1, 900);
    expectLimited(await loginAt(gw, '127.0.0.2', email, PASSWORD), 55, 60);
  };

  it("clears the account's counters: the right password logs in again; other accounts stay blocked", async () => {
    const [dave, erin] = [uniqueEmail('dave'), uniqueEmail('erin')];
    for (const email of [dave, erin]) {
      expect((await gw.gql(RegisterDocument, { email, password: PASSWORD })).data?.register).toBe(true);
      await block(email);
    }

    const run = await runTsx(
      'src/cli/admin.ts',
      ['unblock', dave.toUpperCase()],
      childEnv({ ...named.env, REDIS_URL: redisUrl!, RATE_LIMIT_PREFIX: gw.config.rateLimit.prefix }),
    );
    expect(run.code, run.stderr).toBe(0);
    // One per address that tried: .1 failed three times; .2 was refused, its point taken and given back.
    expect(run.stdout).toContain('login and MFA counters cleared (2 per-address counter(s))');
    const audit = run.stderr.split('\n').filter((line) => line.includes('"audit":true')).map((line) => JSON.parse(line));
    const daveId = (await gw.deps.users.findByEmail(dave))!.id;
    expect(audit).toEqual([expect.objectContaining({ level: 30, msg: 'account unblocked', by: 'admin-cli', userId: daveId, clearedCounters: 2 })]);

    expectLoggedIn(await loginAt(gw, '127.0.0.1', dave, PASSWORD));
    expectLoggedIn(await loginAt(gw, '127.0.0.2', dave, PASSWORD));
    expectLimited(await loginAt(gw, '127.0.0.1', erin, PASSWORD), 1, 900);
  }, 60_000);

  it('fails (exit 1), saying so, when Redis does not clear a counter: never "cleared" for an account still blocked', async () => {
    const frank = uniqueEmail('frank');
    expect((await gw.gql(RegisterDocument, { email: frank, password: PASSWORD })).data?.register).toBe(true);
    await block(frank);
    // A Redis user that may delete the per-address counters, and do anything else but delete.
    const name = `unblock-test-${process.pid}-${Date.now()}`;
    const acl = new Redis(redisUrl!);
    try {
      const perAddress = `~${gw.config.rateLimit.prefix}:loginEmailIp:*`;
      await acl.call('ACL', 'SETUSER', name, 'on', '>pw', 'resetkeys', perAddress, '&*', '+@all', '(~* +@all -del -unlink)');
      const url = new URL(redisUrl!);
      url.username = name;
      url.password = 'pw';
      const run = await runTsx(
        'src/cli/admin.ts',
        ['unblock', frank],
        childEnv({ ...named.env, REDIS_URL: url.toString(), RATE_LIMIT_PREFIX: gw.config.rateLimit.prefix }),
      );
      expect(run.code).toBe(1);
      expect(run.stdout).not.toContain('cleared');
      expect(run.stderr).toContain('admin: failed: Redis did not clear every counter, so the account may still be blocked: NOPERM');
      expect(run.stderr).not.toContain('"audit":true');
    } finally {
      await acl.call('ACL', 'DELUSER', name);
      acl.disconnect();
    }
    expectLimited(await loginAt(gw, '127.0.0.1', frank, PASSWORD), 1, 900);
  }, 60_000);
});

describe.skipIf(!redisUrl)("a Redis that refuses the counters' commands", () => {
  /** A gateway on Redis as a user with `rules` (ACL), for `body`; the user is removed after. */
  async function asRedisUser(rules: string[], env: Record<string, string>, body: (gw: TestGateway) => Promise<void>) {
    const name = `acl-${process.pid}-${Date.now()}`;
    const acl = new Redis(redisUrl!);
    let limited: TestGateway | undefined;
    try {
      await acl.call('ACL', 'SETUSER', name, 'on', '>pw', ...rules);
      const url = new URL(redisUrl!);
      url.username = name;
      url.password = 'pw';
      limited = await startGateway({ env: { ...env, REDIS_URL: url.toString() } });
      await body(limited);
    } finally {
      await limited?.close();
      await acl.call('ACL', 'DELUSER', name);
      acl.disconnect();
    }
  }

  /** The warnings `gw` logged about counter commands Redis failed. */
  const failureWarnings = (gw: TestGateway) =>
    gw.logs.map((l) => JSON.parse(l) as { msg: string; err?: unknown }).filter((l) => l.msg.startsWith('a rate-limit command to Redis failed'));

  it('counts in memory instead, and says so at most once a minute, with the refusal', async () => {
    await asRedisUser(['~*', '&*', '+@all', '-evalsha', '-eval'], { REGISTER_LIMIT_IP: '2/60' }, async (limited) => {
      const register = () => limited.gql(RegisterDocument, { email: uniqueEmail('acl'), password: PASSWORD });
      expect((await register()).data?.register).toBe(true);
      expect((await register()).data?.register).toBe(true);
      expect(codeOf(await register())).toBe('RATE_LIMITED'); // the memory's count
      expect(failureWarnings(limited)).toEqual([
        expect.objectContaining({ msg: "a rate-limit command to Redis failed: counted in this instance's memory instead", err: expect.objectContaining({ code: 'NOPERM' }) }),
      ]);
      expect(await (await fetch(`${limited.url}/readyz`)).json()).toMatchObject({ status: 'ready', rateLimits: 'memory-fallback', degraded: true });
    });
  });

  it('with RATE_LIMIT_FAIL=closed, refuses the operation (SERVICE_UNAVAILABLE), saying why, and /readyz says so', async () => {
    await asRedisUser(['~*', '&*', '+@all', '-evalsha', '-eval'], { RATE_LIMIT_FAIL: 'closed' }, async (limited) => {
      expect(codeOf(await limited.gql(RegisterDocument, { email: uniqueEmail('acl'), password: PASSWORD }))).toBe('SERVICE_UNAVAILABLE');
      expect(failureWarnings(limited)).toEqual([
        expect.objectContaining({ msg: 'a rate-limit command to Redis failed: the operation was refused (RATE_LIMIT_FAIL=closed)', err: expect.objectContaining({ code: 'NOPERM' }) }),
      ]);
      expect(await (await fetch(`${limited.url}/readyz`)).json()).toMatchObject({ status: 'ready', rateLimits: 'redis-down', degraded: true });
    });
  });

  it('with RATE_LIMIT_FAIL=closed, a login whose counters Redis does not clear afterwards still succeeds', async () => {
    await asRedisUser(['~*', '&*', '+@all', '-del', '-unlink'], { RATE_LIMIT_FAIL: 'closed' }, async (closed) => {
      const email = uniqueEmail('grace');
      expect((await closed.gql(RegisterDocument, { email, password: PASSWORD })).data?.register).toBe(true);
      expect(codeOf(await loginAt(closed, '127.0.0.1', email, WRONG))).toBe('INVALID_CREDENTIALS');
      expectLoggedIn(await loginAt(closed, '127.0.0.1', email, PASSWORD));
    });
  });
});
