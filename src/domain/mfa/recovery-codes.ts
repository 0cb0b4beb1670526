import { createHash, randomInt } from 'node:crypto';

export const RECOVERY_CODES_PER_SET = 10;

// 32 symbols, without 0, i, l and o (nothing to confuse when typed): 5 bits each, so a code of
// 10 symbols carries 50 bits.
const SYMBOLS = 'abcdefghjkmnpqrstuvwxyz123456789';

/** A set of recovery codes formatted for people: `xxxxx-xxxxx`. */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODES_PER_SET }, () => {
    const chars = Array.from({ length: 10 }, () => SYMBOLS[randomInt(SYMBOLS.length)]!).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

/** Case, spaces and dashes do not matter when a code is typed back. */
export const normalizeRecoveryCode = (code: string) => code.toLowerCase().replace(/[\s-]/g, '');

/** Stored form: SHA-256, salted with the user id so equal codes of two users differ. */
export const hashRecoveryCode = (userId: string, code: string) =>
  createHash('sha256').update(`${userId}:${normalizeRecoveryCode(code)}`).digest('hex');

export const looksLikeRecoveryCode = (code: string) => /^[a-z0-9]{10}$/.test(normalizeRecoveryCode(code));
