// Rule: password hashing beyond PASSWORD_HASH_CONCURRENCY + PASSWORD_HASH_QUEUE is shed at once with SERVICE_UNAVAILABLE, for known and unknown emails and registrations alike, and a shed attempt spends no rate-limit budget. One client holds at most PASSWORD_HASH_PER_CLIENT of those places (RATE_LIMITED beyond), so that it cannot shed everyone else, even with the right password.
import * as argon2 from 'argon2';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CounterStore, RuleName } from '../../src/domain/throttle';
import { users } from '../../src/storage/postgres/schema';
import { LoginDocument, RegisterDocument } from '../gql/graphql';
import { codeOf, PASSWORD, signUp, uniqueEmail } from '../helpers/fixtures';
import { clientAt } from '../helpers/client-address';
import { startGateway, type GqlResult, type TestGateway } from '../helpers/gateway';

const WRONG = 'Wrong-Guess-4242!';
const BURST = 12;

const codes = (results: GqlResult<unknown>[]) => results.map((r) => codeOf(r) ?? 'ok');
const count = (list: string[], code: string) => list.filter((c) => c === code).length;

describe('a gateway that hashes one password at a time and queues one more', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({
      // The test is the only client: it may hold every place (the default share is half).
      env: {
        PASSWORD_HASH_CONCURRENCY: '1',
        PASSWORD_HASH_QUEUE: '1',
        PASSWORD_HASH_PER_CLIENT: '2',
        LOGIN_LIMIT_EMAIL_IP: `${BURST}/900`,
        REGISTER_LIMIT_IP: '4/3600',
      },
    });
  });
  afterAll(() => gw?.close());

  it('sheds a burst of logins beyond capacity with SERVICE_UNAVAILABLE, and the shed ones cost no budget', async () => {
    const { email } = await signUp(gw);
    const results = await Promise.all(Array.from({ length: BURST }, () => gw.gql(LoginDocument, { email, password: WRONG })));
    const burst = codes(results);
    const checked = count(burst, 'INVALID_CREDENTIALS');
    expect(count(burst, 'SERVICE_UNAVAILABLE')).toBeGreaterThan(0);
    // Each shed one says when to try again, so clients do not retry into the same storm at once.
    for (const shed of results.filter((r) => codeOf(r) === 'SERVICE_UNAVAILABLE')) {
      expect(shed.errors![0]!.extensions.retryAfter).toBe(1);
      expect(shed.headers.get('retry-after')).toBe('1');
    }
    expect(checked).toBeGreaterThan(0);
    expect(checked + count(burst, 'SERVICE_UNAVAILABLE')).toBe(BURST);

    // Only the checked ones counted against LOGIN_LIMIT_EMAIL_IP: the rest of it is still there.
    for (let i = checked; i < BURST; i++) {
      expect(codeOf(await gw.gql(LoginDocument, { email, password: WRONG }))).toBe('INVALID_CREDENTIALS');
    }
    expect(codeOf(await gw.gql(LoginDocument, { email, password: WRONG }))).toBe('RATE_LIMITED');
  });

  it('sheds unknown emails the same way (their dummy verification waits in the same line)', async () => {
    const burst = codes(
      await Promise.all(Array.from({ length: BURST }, () => gw.gql(LoginDocument, { email: uniqueEmail('nobody'), password: WRONG }))),
    );
    expect(count(burst, 'SERVICE_UNAVAILABLE')).toBeGreaterThan(0);
    expect(count(burst, 'INVALID_CREDENTIALS')).toBeGreaterThan(0);
    expect(count(burst, 'INVALID_CREDENTIALS') + count(burst, 'SERVICE_UNAVAILABLE')).toBe(BURST);
  });

  it('admits logins again once the burst is over', async () => {
    const user = await signUp(gw);
    const login = await gw.gql(LoginDocument, { email: user.email, password: PASSWORD });
    expect(login.errors).toBeUndefined();
    expect(login.data?.login.__typename).toBe('AuthPayload');
  });

  it('sheds registrations beyond capacity before they count against REGISTER_LIMIT_IP', async () => {
    const burst = codes(
      await Promise.all(Array.from({ length: 6 }, () => gw.gql(RegisterDocument, { email: uniqueEmail('burst'), password: PASSWORD }))),
    );
    const registered = count(burst, 'ok');
    expect(count(burst, 'SERVICE_UNAVAILABLE')).toBeGreaterThan(0);
    expect(registered + count(burst, 'SERVICE_UNAVAILABLE')).toBe(6);
    // The signUp of the earlier tests used 2 of the 4; the burst `registered` more.
    for (let i = 2 + registered; i < 4; i++) {
      expect(codeOf(await gw.gql(RegisterDocument, { email: uniqueEmail('after'), password: PASSWORD }))).toBeUndefined();
    }
    expect(codeOf(await gw.gql(RegisterDocument, { email: uniqueEmail('over'), password: PASSWORD }))).toBe('RATE_LIMITED');
    // A registration refused by its limit gives back the place in line it took first.
    expect(gw.deps.hasher.load).toEqual({ running: 0, waiting: 0 });
  });
});

describe('a login shed while hashing is saturated', () => {
  let gw: TestGateway;
  /** Every point taken from the gateway's real counter store, by rule. */
  const consumed: RuleName[] = [];
  const recording = (store: CounterStore): CounterStore => ({
    consume: (rule, key, windowSeconds) => (consumed.push(rule), store.consume(rule, key, windowSeconds)),
    refund: (rule, key, taken) => store.refund(rule, key, taken),
    reset: (rule, key) => store.reset(rule, key),
    resetPrefix: (rule, prefix) => store.resetPrefix(rule, prefix),
  });
  beforeAll(async () => {
    gw = await startGateway({ env: { PASSWORD_HASH_CONCURRENCY: '1', PASSWORD_HASH_QUEUE: '1' }, wrapCounters: recording });
  });
  afterAll(() => gw?.close());

  it('is refused with SERVICE_UNAVAILABLE before any rate-limit point is taken, not taken and given back', async () => {
    const { email } = await signUp(gw);
    // Both places, held by other clients.
    const held = [gw.deps.hasher.reserve('another client'), gw.deps.hasher.reserve('a third client')];
    consumed.length = 0;
    try {
      for (const password of [WRONG, PASSWORD]) expect(codeOf(await gw.gql(LoginDocument, { email, password }))).toBe('SERVICE_UNAVAILABLE');
      expect(codeOf(await gw.gql(LoginDocument, { email: uniqueEmail('nobody'), password: WRONG }))).toBe('SERVICE_UNAVAILABLE');
      expect(consumed).toEqual([]);
    } finally {
      for (const place of held) place.release();
    }
    // The control: an admitted check is counted, through the same store.
    expect(codeOf(await gw.gql(LoginDocument, { email, password: WRONG }))).toBe('INVALID_CREDENTIALS');
    expect(consumed).toEqual(expect.arrayContaining(['loginEmailIp', 'loginIp']));
  });
});

describe('one client, however many right passwords, holds at most its share of the places', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    // Four places; the default share is half of them.
    gw = await startGateway({ env: { PASSWORD_HASH_CONCURRENCY: '1', PASSWORD_HASH_QUEUE: '3' } });
  });
  afterAll(() => gw?.close());

  it("refuses the client's logins beyond its share with RATE_LIMITED, and another client still logs in", async () => {
    const [hog, other] = [await signUp(gw), await signUp(gw)];
    // A costlier hash than configured (kept, never downgraded): the hog's checks hold their
    // places long enough for the other client to arrive while they do.
    const slow = await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 19_456, timeCost: 12, parallelism: 1 });
    await gw.database.db.update(users).set({ passwordHash: slow }).where(eq(users.email, hog.email));
    const fromHog = clientAt(gw, '127.0.0.2');
    const burst = Array.from({ length: 6 }, () => fromHog(LoginDocument, { email: hog.email, password: PASSWORD }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const meanwhile = await clientAt(gw, '127.0.0.3')(LoginDocument, { email: other.email, password: PASSWORD });
    expect(meanwhile.errors).toBeUndefined();
    expect(meanwhile.data?.login.__typename).toBe('AuthPayload');
    const results = await Promise.all(burst);
    const refused = results.filter((r) => codeOf(r) === 'RATE_LIMITED');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]!.errors![0]!.extensions.retryAfter).toBe(1);
    expect(results.filter((r) => r.data?.login.__typename === 'AuthPayload').length).toBeGreaterThanOrEqual(2);
    expect(refused.length + results.filter((r) => r.data?.login.__typename === 'AuthPayload').length).toBe(6);
  });
});
