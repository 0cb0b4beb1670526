import { createHash, randomInt } from 'node:crypto';

const RECOVERY_CODES_PER_SET = 10;

// 32 symbols, without 0, i, l and o (nothing to confuse when typed): 5 bits each. 16 symbols
// carry 80 bits: enough that the unsalted-by-secret SHA-256 in a database dump cannot be
// searched (50 bits, the floor, would fall to one GPU in hours).
const SYMBOLS = 'abcdefghjkmnpqrstuvwxyz123456789';

/** A set of recovery codes formatted for people: `xxxx-xxxx-xxxx-xxxx`. */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODES_PER_SET }, () => {
    const chars = Array.from({ length: 16 }, () => SYMBOLS[randomInt(SYMBOLS.length)]!).join('');
    return chars.match(/.{4}/g)!.join('-');
  });
}

/** Case, spaces and dashes do not matter when a code is typed back. */
const normalizeRecoveryCode = (code: string) => code.toLowerCase().replace(/[\s-]/g, '');

/** Stored form: SHA-256, salted with the user id so equal codes of two users differ. */
export const hashRecoveryCode = (userId: string, code: string) =>
  createHash('sha256').update(`${userId}:${normalizeRecoveryCode(code)}`).digest('hex');

export const looksLikeRecoveryCode = (code: string) => /^[a-z0-9]{16}$/.test(normalizeRecoveryCode(code));
