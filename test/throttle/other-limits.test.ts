// Rule: registrations and refresh calls are limited per client IP (a refused input spends nothing), and failed MFA codes per user, with successes refunded; beyond MFA_LIMIT_CONSECUTIVE failures a user's MFA backs off (900 s doubling to a day).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { Throttle } from '../../src/domain/throttle';
import { InvalidCredentialsError, RateLimitedError, ServiceUnavailableError } from '../../src/errors';
import { RefreshDocument, RegisterDocument } from '../gql/graphql';
import { clientAt } from '../helpers/client-address';
import { counterStoreKinds, limitsWith, type OpenedStore } from '../helpers/counter-stores';
import { codeOf, PASSWORD, signUp, uniqueEmail } from '../helpers/fixtures';
import { createTestDatabase, startGateway, type GqlResult, type TestDatabase, type TestGateway } from '../helpers/gateway';

function expectLimited(result: GqlResult<unknown>, max: number) {
  expect(codeOf(result)).toBe('RATE_LIMITED');
  expect(result.status).toBe(200);
  const retryAfter = result.errors![0]!.extensions.retryAfter as number;
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(max);
  expect(result.headers.get('retry-after')).toBe(String(retryAfter));
}

let shared: TestDatabase;
let gw: TestGateway;
beforeAll(async () => {
  shared = await createTestDatabase();
  gw = await startGateway({
    database: shared.database,
    encryptionKeys: generateEncryptionKeyEntry('throttle'),
    env: { REGISTER_LIMIT_IP: '3/60', REFRESH_LIMIT_IP: '3/60' },
  });
});
afterAll(async () => {
  await gw?.close();
  await shared?.drop();
});

const registerAt = (ip: string, email: string, password = PASSWORD) =>
  clientAt(gw, ip)(RegisterDocument, { email, password });

describe('REGISTER_LIMIT_IP', () => {
  it('refuses the 4th registration from one IP; another IP still registers', async () => {
    for (let i = 0; i < 3; i++) expect((await registerAt('127.0.0.2', uniqueEmail('reg'))).data?.register).toBe(true);
    expectLimited(await registerAt('127.0.0.2', uniqueEmail('reg')), 60);
    expect((await registerAt('127.0.0.3', uniqueEmail('reg'))).data?.register).toBe(true);
  });

  it('a weak password or a malformed email is refused before counting', async () => {
    for (let i = 0; i < 4; i++) {
      expect(codeOf(await registerAt('127.0.0.4', uniqueEmail('reg'), 'short'))).toBe('WEAK_PASSWORD');
      expect(codeOf(await registerAt('127.0.0.4', `not-an-email-${i}`))).toBe('BAD_USER_INPUT');
    }
    for (let i = 0; i < 3; i++) expect((await registerAt('127.0.0.4', uniqueEmail('reg'))).data?.register).toBe(true);
    expectLimited(await registerAt('127.0.0.4', uniqueEmail('reg')), 60);
  });
});

describe('REFRESH_LIMIT_IP', () => {
  it('refuses the 4th refresh call from one IP, a valid token too (unspent); another IP refreshes', async () => {
    const { refreshToken } = await signUp(gw);
    const refreshAt = (ip: string, token: string) => clientAt(gw, ip)(RefreshDocument, { refreshToken: token });
    for (let i = 0; i < 3; i++) expect(codeOf(await refreshAt('127.0.0.5', `bogus-${i}`))).toBe('INVALID_TOKEN');
    expectLimited(await refreshAt('127.0.0.5', refreshToken!), 60);

    const elsewhere = await refreshAt('127.0.0.6', refreshToken!);
    expect(elsewhere.errors).toBeUndefined();
    expect(elsewhere.data?.refresh.refreshToken).toEqual(expect.any(String));
  });
});

if (!process.env.REDIS_URL) console.log('skipping the Redis variant of the MFA limit domain test: REDIS_URL unset');
describe.each(counterStoreKinds())('MFA_LIMIT_USER: Throttle.guardMfa on the $name store (domain)', (kind) => {
  let opened: OpenedStore;
  let throttle: Throttle;
  beforeAll(async () => {
    const limits = limitsWith({ mfaUser: { points: 3, duration: 600 } });
    opened = await kind.open(limits);
    throttle = new Throttle(opened.store, limits);
  });
  afterAll(() => opened?.close());

  /** A code check that counts its calls and answers as told. */
  const checker = () => {
    const calls = { count: 0 };
    const run = (userId: string, outcome: 'ok' | 'wrong' | 'store-down') =>
      throttle.guardMfa(userId, (e) => e instanceof InvalidCredentialsError, async () => {
        calls.count++;
        if (outcome === 'wrong') throw new InvalidCredentialsError();
        if (outcome === 'store-down') throw new ServiceUnavailableError();
        return 'verified';
      });
    return { calls, run };
  };

  it('after 3 failed codes the 4th attempt is RATE_LIMITED without a check; another user is unaffected', async () => {
    const { calls, run } = checker();
    const user = uniqueEmail('mfa');
    for (let i = 0; i < 3; i++) await expect(run(user, 'wrong')).rejects.toBeInstanceOf(InvalidCredentialsError);
    const refused = await run(user, 'ok').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect((refused as RateLimitedError).retryAfter).toBeGreaterThanOrEqual(1);
    expect((refused as RateLimitedError).retryAfter).toBeLessThanOrEqual(600);
    expect(calls.count).toBe(3);
    await expect(run(uniqueEmail('mfa'), 'ok')).resolves.toBe('verified');
  });

  it('successes and errors that are not failures spend nothing', async () => {
    const { calls, run } = checker();
    const user = uniqueEmail('mfa');
    for (let i = 0; i < 2; i++) await expect(run(user, 'wrong')).rejects.toBeInstanceOf(InvalidCredentialsError);
    for (let i = 0; i < 4; i++) await expect(run(user, 'ok')).resolves.toBe('verified');
    for (let i = 0; i < 4; i++) await expect(run(user, 'store-down')).rejects.toBeInstanceOf(ServiceUnavailableError);
    await expect(run(user, 'wrong')).rejects.toBeInstanceOf(InvalidCredentialsError);
    await expect(run(user, 'ok')).rejects.toBeInstanceOf(RateLimitedError);
    expect(calls.count).toBe(11);
  });
});

if (!process.env.REDIS_URL) console.log('skipping the Redis variant of the MFA back-off domain test: REDIS_URL unset');
describe.each(counterStoreKinds())('MFA_LIMIT_CONSECUTIVE: the MFA back-off on the $name store (domain)', (kind) => {
  let opened: OpenedStore;
  let throttle: Throttle;
  beforeAll(async () => {
    const limits = limitsWith({ mfaConsecutive: { points: 2, duration: 1_209_600 } });
    opened = await kind.open(limits);
    throttle = new Throttle(opened.store, limits);
  });
  afterAll(() => opened?.close());

  const userOf = () => randomUUID();
  let checks = 0;
  const attempt = (userId: string, outcome: 'ok' | 'wrong') =>
    throttle.guardMfa(userId, (e) => e instanceof InvalidCredentialsError, async () => {
      checks++;
      if (outcome === 'wrong') throw new InvalidCredentialsError();
      return 'verified';
    });
  /** The next attempt is refused without a check; its retryAfter. */
  const retryAfterOf = async (userId: string) => {
    const before = checks;
    const error = await attempt(userId, 'ok').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(checks).toBe(before);
    return (error as RateLimitedError).retryAfter;
  };

  it('starts at 900 s, doubles after each expiry and never exceeds a day', async () => {
    const user = userOf();
    await expect(attempt(user, 'wrong')).rejects.toBeInstanceOf(InvalidCredentialsError);
    await expect(attempt(user, 'wrong')).rejects.toBeInstanceOf(InvalidCredentialsError);
    const seen = [await retryAfterOf(user)];
    for (let i = 0; i < 8; i++) {
      await opened.store.reset('mfaBackoff', user); // the back-off expires
      await expect(attempt(user, 'wrong')).rejects.toBeInstanceOf(InvalidCredentialsError);
      seen.push(await retryAfterOf(user));
    }
    const expected = [900, 1800, 3600, 7200, 14_400, 28_800, 57_600, 86_400, 86_400];
    seen.forEach((s, i) => {
      expect(s).toBeGreaterThanOrEqual(expected[i]! - 2);
      expect(s).toBeLessThanOrEqual(expected[i]!);
    });
  });

  it('an accepted code, or an operator unblock, clears the count', async () => {
    const user = userOf();
    await expect(attempt(user, 'wrong')).rejects.toBeInstanceOf(InvalidCredentialsError);
    await expect(attempt(user, 'ok')).resolves.toBe('verified');
    await expect(attempt(user, 'wrong')).rejects.toBeInstanceOf(InvalidCredentialsError);
    await expect(attempt(user, 'wrong')).rejects.toBeInstanceOf(InvalidCredentialsError); // the gate opens for it
    await retryAfterOf(user);

    await throttle.unblockAccount(uniqueEmail('mfa'), user);
    await expect(attempt(user, 'wrong')).rejects.toBeInstanceOf(InvalidCredentialsError);
    await expect(attempt(user, 'ok')).resolves.toBe('verified');
  });
});
