/**
 * The counters the throttle needs, one named rule each. Implemented by rate-limiter-flexible on
 * Redis (shared by every instance) or in memory (one instance). Every call touches one key.
 */

export interface LimitRule {
  points: number;
  /** Window in seconds, counted from the first point. */
  duration: number;
}

export type RuleName =
  | 'loginEmailIp'
  | 'loginIp'
  | 'loginAccount'
  | 'accountBackoff'
  | 'registerIp'
  | 'refreshIp'
  | 'mfaUser';

export interface Consumed {
  /** False when this point went over the rule's limit. */
  allowed: boolean;
  consumed: number;
  msBeforeNext: number;
}

export interface CounterStore {
  consume(rule: RuleName, key: string): Promise<Consumed>;
  /** Gives one point back (a refused or successful attempt spends nothing). */
  refund(rule: RuleName, key: string): Promise<void>;
  /** Milliseconds until the key may try again, 0 when it is not at its limit. */
  blockedFor(rule: RuleName, key: string): Promise<number>;
  /** Blocks the key for `seconds`, whatever it has consumed. */
  block(rule: RuleName, key: string, seconds: number): Promise<void>;
  reset(rule: RuleName, key: string): Promise<void>;
  /** Resets every key of the rule that starts with `prefix` (operator use; may scan). */
  resetPrefix(rule: RuleName, prefix: string): Promise<number>;
}
