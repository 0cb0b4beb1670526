import { BadUserInputError } from '../../errors';

// Deliberately loose (one @, no spaces, a dot in the domain): the mailbox is the real check. No
// control characters or lone surrogates either: PostgreSQL's text cannot hold a NUL.
const EMAIL = /^[^\s@\p{Cc}\p{Cs}]+@[^\s@\p{Cc}\p{Cs}]+\.[^\s@\p{Cc}\p{Cs}]+$/u;

/** Trimmed and lower-cased, so that emails compare case-insensitively and stay unique. */
export function normalizeEmail(email: string): string {
  const normalized = email.trim().toLowerCase();
  if (normalized.length > 254 || !EMAIL.test(normalized)) {
    throw new BadUserInputError('Invalid email address.', 'email');
  }
  return normalized;
}
