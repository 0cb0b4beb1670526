import type { PasswordRejection } from '../../errors';
import { isCommonPassword } from './common-passwords';

export type PasswordPolicy = 'composition' | 'nist';

export const MAX_PASSWORD_LENGTH = 256;
const MIN_LENGTH: Record<PasswordPolicy, number> = { composition: 12, nist: 15 };

/** NFKC, so that visually equal passwords hash alike. Never truncated. */
export const normalizePassword = (password: string) => password.normalize('NFKC');

/**
 * Every reason a password fails the policy (empty: accepted). Lengths count code points of
 * the NFKC form, so an emoji is one character.
 */
export function checkPasswordPolicy(password: string, policy: PasswordPolicy): PasswordRejection[] {
  const normalized = normalizePassword(password);
  const length = [...normalized].length;
  const reasons: PasswordRejection[] = [];
  if (length < MIN_LENGTH[policy]) reasons.push('TOO_SHORT');
  if (length > MAX_PASSWORD_LENGTH) reasons.push('TOO_LONG');
  if (policy === 'composition') {
    if (!/\p{Lu}/u.test(normalized)) reasons.push('MISSING_UPPERCASE');
    if (!/\p{Ll}/u.test(normalized)) reasons.push('MISSING_LOWERCASE');
    if (!/\p{Nd}/u.test(normalized)) reasons.push('MISSING_DIGIT');
    if (!/[^\p{L}\p{Nd}]/u.test(normalized)) reasons.push('MISSING_SYMBOL');
  }
  if (isCommonPassword(normalized)) reasons.push('COMMON_PASSWORD');
  return reasons;
}
