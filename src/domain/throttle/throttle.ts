import { RateLimitedError } from '../../errors';
import { clientKey, emailKey } from './client-key';
import type { Consumed, CounterStore, LimitRule, RuleName } from './ports';

export interface ThrottleLimits {
  loginEmailIp: LimitRule;
  loginIp: LimitRule;
  loginAccount: LimitRule;
  registerIp: LimitRule;
  refreshIp: LimitRule;
  mfaUser: LimitRule;
  mfaConsecutive: LimitRule;
}

/** Account back-off from the LOGIN_LIMIT_ACCOUNT-th failure on: 60 s, doubling, at most 900 s. */
const ACCOUNT_BACKOFF_START_SECONDS = 60;
const ACCOUNT_BACKOFF_MAX_SECONDS = 900;
/** A user's MFA back-off from the MFA_LIMIT_CONSECUTIVE-th failure on: 900 s, doubling, at most a day. */
const MFA_BACKOFF_START_SECONDS = 900;
const MFA_BACKOFF_MAX_SECONDS = 86_400;

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

type Counter = readonly [RuleName, string];
/** A counter and the point taken from it, which is what a refund gives back. */
type Point = readonly [Counter, Consumed];

/** What admits an attempt past its counters: a wait, or the points it took to let it through. */
type Admission = { waitMs: number } | { took: Point[] };

/** A counter taken with an attempt; `countOnly` counters never refuse by themselves. */
interface Taken {
  counter: Counter;
  countOnly?: boolean;
}

/**
 * Brute-force protection around every credential check. Points are taken before the check
 * (atomically, so concurrent guesses cannot all slip under a limit) and given back when the
 * check succeeds or is refused, so only password checks that were made and failed count. While
 * a key is at its limit the check is not made at all: RATE_LIMITED, and nothing is learned.
 * Failures count the same whether or not the email has an account.
 */
export class Throttle {
  constructor(
    private readonly store: CounterStore,
    private readonly limits: ThrottleLimits,
  ) {}

  /**
   * Wraps one password check for (email, client IP). The account's failures are counted before
   * the check like the others; beyond LOGIN_LIMIT_ACCOUNT a check is let through only by the
   * back-off gate, one key taken atomically whose window doubles (60 s … 900 s) per failure.
   * `email`: the canonical spelling (canonicalEmail), or the input as it came when it is no address.
   */
  async guardLogin<T>(email: string, ip: string | null, isFailure: (e: unknown) => boolean, check: () => Promise<T>) {
    const account = emailKey(email);
    const emailIp: Counter = ['loginEmailIp', `${account}:${clientKey(ip)}`];
    const perIp: Counter = ['loginIp', clientKey(ip)];
    const perAccount: Counter = ['loginAccount', account];
    const gate: Counter = ['accountBackoff', account];
    const taken: Taken[] = [{ counter: emailIp }, { counter: perIp }, { counter: perAccount, countOnly: true }];
    return this.attempt(taken, check, isFailure, {
      admit: ([, , accountTaken]) =>
        this.backoff(gate, accountTaken!.consumed - this.limits.loginAccount.points, ACCOUNT_BACKOFF_START_SECONDS, ACCOUNT_BACKOFF_MAX_SECONDS),
      onSuccess: () => Promise.all([this.store.reset(...emailIp), this.store.reset(...gate)]),
    });
  }

  /**
   * Wraps one MFA code check for a user (used by the MFA flow): MFA_LIMIT_USER, and, beyond
   * MFA_LIMIT_CONSECUTIVE failures since the last accepted code, the user's back-off gate
   * (900 s … a day), as the account's for passwords. An accepted code clears both.
   */
  guardMfa<T>(userId: string, isFailure: (e: unknown) => boolean, check: () => Promise<T>) {
    const consecutive: Counter = ['mfaConsecutive', userId];
    const gate: Counter = ['mfaBackoff', userId];
    const taken: Taken[] = [{ counter: ['mfaUser', userId] }, { counter: consecutive, countOnly: true }];
    return this.attempt(taken, check, isFailure, {
      admit: ([, consecutiveTaken]) =>
        this.backoff(gate, consecutiveTaken!.consumed - this.limits.mfaConsecutive.points, MFA_BACKOFF_START_SECONDS, MFA_BACKOFF_MAX_SECONDS),
      onSuccess: () => Promise.all([this.store.reset(...consecutive), this.store.reset(...gate)]),
    });
  }

  /** One registration from this client. */
  register(ip: string | null) {
    return this.take(['registerIp', clientKey(ip)]);
  }

  /** One refresh from this client (refresh tokens cannot be guessed: this is against floods). */
  refresh(ip: string | null) {
    return this.take(['refreshIp', clientKey(ip)]);
  }

  /** Clears an account's login and MFA counters (operator: `npm run admin -- unblock <email>`); `email` as stored. */
  async unblockAccount(email: string, userId: string) {
    const account = emailKey(email);
    await Promise.all([this.store.reset('loginAccount', account), this.store.reset('accountBackoff', account), this.clearMfaCounters(userId)]);
    return this.store.resetPrefix('loginEmailIp', `${account}:`);
  }

  /** The user's MFA counters (MFA_LIMIT_USER, MFA_LIMIT_CONSECUTIVE and its back-off) start over. */
  async clearMfaCounters(userId: string) {
    const rules = ['mfaUser', 'mfaConsecutive', 'mfaBackoff'] as const;
    await Promise.all(rules.map((rule) => this.store.reset(rule, userId)));
  }

  /**
   * A back-off gate: from `excess` 0 on (failures beyond a limit), one attempt per window, the
   * window doubling with the excess from `startSeconds` up to `maxSeconds`, taken atomically.
   */
  private async backoff(gate: Counter, excess: number, startSeconds: number, maxSeconds: number): Promise<Admission> {
    if (excess < 0) return { took: [] };
    const window = Math.min(maxSeconds, startSeconds * 2 ** Math.min(excess, 10));
    const opened = await this.store.consume(...gate, window);
    // Let through, the gate is given back with the other points unless the check fails.
    if (opened.allowed) return { took: [[gate, opened]] };
    // Refused, it gives back the point the refusal added: the attempt let through before
    // (still being checked) then reopens the gate by itself if it is not checked after all.
    await this.store.refund(...gate, opened);
    return { waitMs: opened.msBeforeNext };
  }

  private async take(counter: Counter) {
    const result = await this.store.consume(...counter);
    if (!result.allowed) {
      await this.store.refund(...counter, result);
      throw new RateLimitedError(seconds(result.msBeforeNext));
    }
  }

  /**
   * Takes a point from every counter, refuses (giving them back) when any is over its limit or
   * `admit` says wait, runs the check, and gives the points back unless the check failed.
   */
  private async attempt<T>(
    takes: Taken[],
    check: () => Promise<T>,
    isFailure: (e: unknown) => boolean,
    hooks: { admit?: (taken: Consumed[]) => Promise<Admission>; onSuccess?: () => Promise<unknown> } = {},
  ): Promise<T> {
    const counters = takes.map((t) => t.counter);
    const settled = await Promise.allSettled(counters.map((c) => this.store.consume(...c)));
    const refund = (which: Point[]) => Promise.allSettled(which.map(([counter, point]) => this.store.refund(...counter, point)));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await refund(settled.flatMap((s, i) => (s.status === 'fulfilled' ? [[counters[i]!, s.value] as const] : [])));
      throw failed.reason; // SERVICE_UNAVAILABLE: a store is down and RATE_LIMIT_FAIL=closed, or Redis did not answer in time
    }
    const taken = settled.map((s) => (s as PromiseFulfilledResult<Consumed>).value);
    const points = counters.map((counter, i): Point => [counter, taken[i]!]);
    const refused = taken.filter((t, i) => !t.allowed && !takes[i]!.countOnly).map((t) => t.msBeforeNext);
    let admission: Admission;
    try {
      admission = refused.length > 0 ? { waitMs: Math.max(...refused) } : ((await hooks.admit?.(taken)) ?? { took: [] });
    } catch (error) {
      void refund(points); // the gate's store failed (as above): no check was made
      throw error;
    }
    if ('waitMs' in admission) {
      void refund(points); // as below: the refusal does not wait for it
      throw new RateLimitedError(seconds(admission.waitMs));
    }
    let result: T;
    try {
      result = await check();
    } catch (error) {
      // Not a failed check (shed, or a store was down): the points go back, the admission's
      // too, and the answer does not wait for that: a shed must be quick. (refund never
      // rejects; the store's commands run in order, so the client's next attempt is counted
      // after it.)
      if (!isFailure(error)) void refund([...points, ...admission.took]);
      throw error;
    }
    await refund(points);
    // The check has succeeded (and may have spent a code): counters left uncleared only err on
    // the safe side, so a store that fails here does not fail it.
    await hooks.onSuccess?.().catch(() => {});
    return result;
  }
}
