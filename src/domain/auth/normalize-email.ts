import { BadUserInputError } from '../../errors';

// Deliberately loose (one @, no spaces, a dot in the domain): the mailbox is the real check.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Trimmed and lower-cased, so that emails compare case-insensitively and stay unique. */
export function normalizeEmail(email: string): string {
  const normalized = email.trim().toLowerCase();
  if (normalized.length > 254 || !EMAIL.test(normalized)) {
    throw new BadUserInputError('Invalid email address.', 'email');
  }
  return normalized;
}
