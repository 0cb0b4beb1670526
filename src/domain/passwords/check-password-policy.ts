import { BadUserInputError, WeakPasswordError, type PasswordRejection } from '../../errors';
import { isCommonPassword } from './common-passwords';

export type PasswordPolicy = 'composition' | 'nist';

export const MAX_PASSWORD_LENGTH = 256;
const MIN_LENGTH: Record<PasswordPolicy, number> = { composition: 12, nist: 15 };

/**
 * The longest a password may be as sent, in UTF-16 code units. NFKC makes one code point of at
 * most six units today (Unicode 16's letters composed of three supplementary-plane characters;
 * five for a mathematical alpha with three Greek marks, four for a letter with three combining
 * marks), so no password within MAX_PASSWORD_LENGTH is longer than six per character; eight
 * leave room for what later versions of Unicode compose. A longer one is refused before it is
 * normalized: NFKC may also multiply a character eighteenfold (U+FDFA), work that a client
 * could otherwise ask of the event loop with one request, before any limit counts it.
 */
export const MAX_SENT_PASSWORD_UNITS = 8 * MAX_PASSWORD_LENGTH;

/** NFKC, so that visually equal passwords hash alike. Never truncated. */
export const normalizePassword = (password: string) => password.normalize('NFKC');

/** Code points of `text`, counted up to `cap` (no further: enough to compare with the limits). */
function codePoints(text: string, cap: number) {
  let count = 0;
  for (const _ of text) if (++count === cap) break;
  return count;
}

/**
 * Every reason a password fails the policy (empty: accepted). Lengths count code points of
 * the NFKC form, so an emoji is one character. One longer than MAX_SENT_PASSWORD_UNITS as sent
 * is refused as TOO_LONG alone, unexamined.
 */
export function checkPasswordPolicy(password: string, policy: PasswordPolicy): PasswordRejection[] {
  if (password.length > MAX_SENT_PASSWORD_UNITS) return ['TOO_LONG'];
  const normalized = normalizePassword(password);
  const length = codePoints(normalized, MAX_PASSWORD_LENGTH + 1);
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

/** The rules of `policy`, for a client to show before it submits a new password. */
export function describePasswordPolicy(policy: PasswordPolicy) {
  const composition = policy === 'composition';
  return {
    minLength: MIN_LENGTH[policy],
    maxLength: MAX_PASSWORD_LENGTH,
    requiresUppercase: composition,
    requiresLowercase: composition,
    requiresDigit: composition,
    requiresSymbol: composition,
    refusesCommonPasswords: true,
  };
}

/**
 * A new password (register, changePassword): BAD_USER_INPUT when it is not valid Unicode text (a
 * lone surrogate, which argon2's UTF-8 encoding would turn into U+FFFD, so that another password
 * would match it), WEAK_PASSWORD with every reason when it fails the policy.
 */
export function acceptNewPassword(password: string, policy: PasswordPolicy, field: string) {
  if (/\p{Cs}/u.test(password)) throw new BadUserInputError('Invalid password: it holds a lone surrogate, which is not text.', field);
  const reasons = checkPasswordPolicy(password, policy);
  if (reasons.length > 0) throw new WeakPasswordError(reasons);
}
