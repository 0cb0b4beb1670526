// Rule: password hashing beyond PASSWORD_HASH_CONCURRENCY + PASSWORD_HASH_QUEUE is shed at once with SERVICE_UNAVAILABLE, for known and unknown emails and registrations alike, and a shed attempt spends no rate-limit budget.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginDocument, RegisterDocument } from '../gql/graphql';
import { codeOf, PASSWORD, signUp, uniqueEmail } from '../helpers/fixtures';
import { startGateway, type GqlResult, type TestGateway } from '../helpers/gateway';

const WRONG = 'Wrong-Guess-4242!';
const BURST = 12;

const codes = (results: GqlResult<unknown>[]) => results.map((r) => codeOf(r) ?? 'ok');
const count = (list: string[], code: string) => list.filter((c) => c === code).length;

describe('a gateway that hashes one password at a time and queues one more', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({
      env: { PASSWORD_HASH_CONCURRENCY: '1', PASSWORD_HASH_QUEUE: '1', LOGIN_LIMIT_EMAIL_IP: `${BURST}/900`, REGISTER_LIMIT_IP: '4/3600' },
    });
  });
  afterAll(() => gw?.close());

  it('sheds a burst of logins beyond capacity with SERVICE_UNAVAILABLE, and the shed ones cost no budget', async () => {
    const { email } = await signUp(gw);
    const burst = codes(await Promise.all(Array.from({ length: BURST }, () => gw.gql(LoginDocument, { email, password: WRONG }))));
    const checked = count(burst, 'INVALID_CREDENTIALS');
    expect(count(burst, 'SERVICE_UNAVAILABLE')).toBeGreaterThan(0);
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
  });
});
