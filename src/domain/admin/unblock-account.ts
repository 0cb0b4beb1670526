import { ServiceUnavailableError } from '../../errors';
import type { AuthDeps } from '../auth/deps';
import type { Throttle } from '../throttle';
import { findUserByEmail } from './find-user-by-email';

/**
 * The shared counters were not all cleared, so the account may still be blocked; `cause` is
 * what the store answered (not a refusal of ours: the CLI reports it as a failure, with why).
 */
export class CountersNotClearedError extends Error {
  constructor(cause: unknown) {
    super('Redis did not clear every counter, so the account may still be blocked', { cause });
  }
}

/** Shared counters being cleared: a failure is CountersNotClearedError, with what the store answered. */
export const clearing = <T>(cleared: Promise<T>) =>
  cleared.catch((error: unknown) => {
    throw new CountersNotClearedError(error instanceof ServiceUnavailableError ? (error as { cause?: unknown }).cause : error);
  });

/**
 * Clears the account's login and MFA counters (`admin unblock`) and returns how many
 * per-address login counters went. `throttle` null: each server counts in its own memory (no
 * REDIS_URL), which nothing here can clear: null, and nothing audited.
 */
export async function unblockAccount(deps: Pick<AuthDeps, 'users' | 'audit'> & { throttle: Throttle | null }, email: string) {
  const user = await findUserByEmail(deps.users, email);
  if (!deps.throttle) return null;
  const clearedCounters = await clearing(deps.throttle.unblockAccount(user.email, user.id));
  deps.audit('account unblocked', { userId: user.id, clearedCounters });
  return { clearedCounters };
}
