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
  | 'mfaUser'
  | 'mfaConsecutive'
  | 'mfaBackoff';

export interface Consumed {
  /** False when this point went over the rule's limit. */
  allowed: boolean;
  consumed: number;
  msBeforeNext: number;
  /** When the window this point was taken in ends, on this process's monotonic clock (performance.now()). */
  windowEndsAt: number;
  /**
   * Which counters took the point: the shared ones, or this instance's memory (without Redis, or
   * as the insurance while Redis is away or refused the command). A refund gives it back there only.
   */
  store: 'shared' | 'local';
}

export interface CounterStore {
  /**
   * Takes one point. `windowSeconds` overrides the rule's window for a key that does not exist
   * yet (an existing window is never stretched).
   */
  consume(rule: RuleName, key: string, windowSeconds?: number): Promise<Consumed>;
  /**
   * Gives one point back (a refused or successful attempt spends nothing) to the counters that
   * took it (`taken`, what consume answered), in the window it was taken in: never to a later
   * one, never creating a key, never below zero. Where that cannot be made sure of (the store
   * not answering, or failing the give-back), the point stays spent. Never rejects.
   */
  refund(rule: RuleName, key: string, taken: Consumed): Promise<void>;
  reset(rule: RuleName, key: string): Promise<void>;
  /** Resets every key of the rule that starts with `prefix` (operator use; may scan). */
  resetPrefix(rule: RuleName, prefix: string): Promise<number>;
}
