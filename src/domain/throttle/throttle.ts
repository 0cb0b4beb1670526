import { RateLimitedError } from '../../errors';
import { clientKey, emailKey } from './client-key';
import type { CounterStore, LimitRule, RuleName } from './ports';

export interface ThrottleLimits {
  loginEmailIp: LimitRule;
  loginIp: LimitRule;
  loginAccount: LimitRule;
  registerIp: LimitRule;
  refreshIp: LimitRule;
  mfaUser: LimitRule;
}

/** Account back-off after LOGIN_LIMIT_ACCOUNT failures: 60 s, doubling, at most 900 s. */
export const ACCOUNT_BACKOFF_START_SECONDS = 60;
export const ACCOUNT_BACKOFF_MAX_SECONDS = 900;

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

type Counter = readonly [RuleName, string];

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

  /** Wraps one password check for (email, client IP). */
  async guardLogin<T>(email: string, ip: string | null, isFailure: (e: unknown) => boolean, check: () => Promise<T>) {
    const account = emailKey(email);
    const backoff = await this.store.blockedFor('accountBackoff', account);
    if (backoff > 0) throw new RateLimitedError(seconds(backoff));
    const emailIp: Counter = ['loginEmailIp', `${account}:${clientKey(ip)}`];
    const perIp: Counter = ['loginIp', clientKey(ip)];
    return this.attempt([emailIp, perIp], check, isFailure, {
      onSuccess: () => this.store.reset(...emailIp),
      onFailure: () => this.countAccountFailure(account),
    });
  }

  /** Wraps one MFA code check for a user (used by the MFA flow). */
  guardMfa<T>(userId: string, isFailure: (e: unknown) => boolean, check: () => Promise<T>) {
    return this.attempt([['mfaUser', userId]], check, isFailure);
  }

  /** One registration from this client. */
  register(ip: string | null) {
    return this.take(['registerIp', clientKey(ip)]);
  }

  /** One refresh from this client (refresh tokens cannot be guessed: this is against floods). */
  refresh(ip: string | null) {
    return this.take(['refreshIp', clientKey(ip)]);
  }

  /** Clears an account's login counters (operator: `npm run admin -- unblock <email>`). */
  async unblockAccount(email: string) {
    const account = emailKey(email);
    await Promise.all([this.store.reset('loginAccount', account), this.store.reset('accountBackoff', account)]);
    return this.store.resetPrefix('loginEmailIp', `${account}:`);
  }

  private async take(counter: Counter) {
    const result = await this.store.consume(...counter);
    if (!result.allowed) {
      await this.store.refund(...counter);
      throw new RateLimitedError(seconds(result.msBeforeNext));
    }
  }

  private async attempt<T>(
    counters: Counter[],
    check: () => Promise<T>,
    isFailure: (e: unknown) => boolean,
    hooks: { onSuccess?: () => Promise<unknown>; onFailure?: () => Promise<unknown> } = {},
  ): Promise<T> {
    const taken = await Promise.all(counters.map((c) => this.store.consume(...c)));
    const refused = taken.filter((t) => !t.allowed);
    const refundAll = () => Promise.all(counters.map((c) => this.store.refund(...c)));
    if (refused.length > 0) {
      await refundAll();
      throw new RateLimitedError(seconds(Math.max(...refused.map((r) => r.msBeforeNext))));
    }
    let result: T;
    try {
      result = await check();
    } catch (error) {
      if (isFailure(error)) await hooks.onFailure?.();
      else await refundAll(); // not a failed check (e.g. a store was down): spends nothing
      throw error;
    }
    await refundAll();
    await hooks.onSuccess?.();
    return result;
  }

  private async countAccountFailure(account: string) {
    const { consumed } = await this.store.consume('loginAccount', account);
    const excess = consumed - this.limits.loginAccount.points;
    if (excess >= 0) {
      const backoff = Math.min(ACCOUNT_BACKOFF_MAX_SECONDS, ACCOUNT_BACKOFF_START_SECONDS * 2 ** Math.min(excess, 10));
      await this.store.block('accountBackoff', account, backoff);
    }
  }
}
