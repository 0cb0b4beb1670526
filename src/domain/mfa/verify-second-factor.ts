import { InvalidMfaCodeError, InvalidTokenError, MfaNotEnabledError, UnauthenticatedError } from '../../errors';
import type { AuthDeps } from '../auth/deps';
import type { ChallengeToSpend, CodeSpend, CodeToSpend } from './ports';
import { hashRecoveryCode, looksLikeRecoveryCode } from './recovery-codes';
import { openTotpSecret } from './secret';
import { matchingStep } from './totp';

export type SecondFactor = 'otp' | 'rcode';

/**
 * Checks a TOTP code (a step later than the last accepted one, taken atomically) or, when
 * allowed, a recovery code (spent atomically), inside the per-user MFA limit. Every miss is
 * INVALID_MFA_CODE, and audited ('mfa code rejected', with `rejected`: who presented it; as
 * confirmMfa's are), for every path that checks a code draws on the one per-user budget of
 * guesses at the one secret;
 * the answer is the amr value of the factor that matched. With a login
 * challenge, the code and the challenge are spent together; a challenge spent meanwhile is
 * INVALID_TOKEN, and the code stays unspent. With `spend`, the code is spent by the change it
 * was sent for, in that change's transaction: a change refused because its session has ended is
 * UNAUTHENTICATED, and the code stays unspent.
 */
export async function verifySecondFactor(
  deps: Pick<AuthDeps, 'mfa' | 'box' | 'clock' | 'throttle' | 'audit'>,
  userId: string,
  code: string,
  options: CheckOptions & { rejected: Record<string, unknown> },
): Promise<SecondFactor> {
  try {
    return await checkCode(deps, userId, code, options);
  } catch (error) {
    if (error instanceof InvalidMfaCodeError) deps.audit('mfa code rejected', { userId, ...options.rejected });
    throw error;
  }
}

interface CheckOptions {
  recoveryCodes: boolean;
  challenge?: ChallengeToSpend;
  spend?: (code: CodeToSpend) => Promise<CodeSpend>;
}

function checkCode(deps: Pick<AuthDeps, 'mfa' | 'box' | 'clock' | 'throttle'>, userId: string, code: string, options: CheckOptions): Promise<SecondFactor> {
  const spend = async (right: CodeToSpend) => {
    const spent = options.spend
      ? await options.spend(right)
      : right.kind === 'otp'
        ? await deps.mfa.acceptStep(userId, right.step, options.challenge)
        : await deps.mfa.useRecoveryCode(userId, right.codeHash, right.now, options.challenge);
    if (spent === 'challenge-gone') throw new InvalidTokenError();
    if (spent === 'session-ended') throw new UnauthenticatedError();
    return spent === 'spent';
  };
  return deps.throttle.guardMfa(
    userId,
    (error) => error instanceof InvalidMfaCodeError,
    async () => {
      const factor = await deps.mfa.getFactor(userId);
      if (!factor?.confirmed) throw new MfaNotEnabledError();
      const now = deps.clock.now();
      const step = matchingStep(openTotpSecret(deps.box, userId, factor.sealed), code, now);
      if (step !== null) {
        if (await spend({ kind: 'otp', step })) return 'otp';
        throw new InvalidMfaCodeError(); // replayed: that step (or a later one) was used
      }
      if (options.recoveryCodes && looksLikeRecoveryCode(code)) {
        if (await spend({ kind: 'rcode', codeHash: hashRecoveryCode(userId, code), now })) return 'rcode';
      }
      throw new InvalidMfaCodeError();
    },
  );
}
