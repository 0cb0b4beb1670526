import { InvalidMfaCodeError, MfaNotEnabledError } from '../../errors';
import type { AuthDeps } from '../auth/deps';
import { hashRecoveryCode, looksLikeRecoveryCode } from './recovery-codes';
import { openTotpSecret } from './secret';
import { matchingStep } from './totp';

export type SecondFactor = 'otp' | 'rcode';

/**
 * Checks a TOTP code (a step later than the last accepted one, taken atomically) or, when
 * allowed, a recovery code (spent atomically), inside the per-user MFA limit. Every miss is
 * INVALID_MFA_CODE; the answer is the amr value of the factor that matched.
 */
export function verifySecondFactor(
  deps: Pick<AuthDeps, 'mfa' | 'box' | 'clock' | 'throttle'>,
  userId: string,
  code: string,
  options: { recoveryCodes: boolean },
): Promise<SecondFactor> {
  return deps.throttle.guardMfa(
    userId,
    (error) => error instanceof InvalidMfaCodeError,
    async () => {
      const factor = await deps.mfa.getFactor(userId);
      if (!factor?.confirmed) throw new MfaNotEnabledError();
      const now = deps.clock.now();
      const step = matchingStep(openTotpSecret(deps.box, userId, factor.sealed), code.trim(), now);
      if (step !== null) {
        if (await deps.mfa.acceptStep(userId, step)) return 'otp';
        throw new InvalidMfaCodeError(); // replayed: that step (or a later one) was used
      }
      if (options.recoveryCodes && looksLikeRecoveryCode(code)) {
        if (await deps.mfa.useRecoveryCode(userId, hashRecoveryCode(userId, code), now)) return 'rcode';
      }
      throw new InvalidMfaCodeError();
    },
  );
}
