import { domainToASCII, domainToUnicode } from 'node:url';
import { BadUserInputError } from '../../errors';

// Deliberately loose (one @, no spaces, a dot in the domain): the mailbox is the real check. No
// character of Unicode's "other" categories either: control characters (PostgreSQL's text cannot
// hold a NUL), lone surrogates, and the invisible format characters (zero-width spaces and
// joiners, soft hyphens, bidirectional overrides) that make one address look like another.
const EMAIL = /^[^\s@\p{C}]+@[^\s@\p{C}]+\.[^\s@\p{C}]+$/u;

/**
 * The one spelling of an address, so that addresses that read the same are one account (and
 * one rate-limit bucket): trimmed, NFKC-normalised (é typed as e + ´, full-width letters,
 * ligatures) and lower-cased; the domain as UTS #46 maps it (its punycode xn-- form and its
 * Unicode form are one domain), in Unicode, without the trailing dot of a fully qualified name.
 * Never throws: an address that is not valid stays invalid (normalizeEmail refuses it).
 */
export function canonicalEmail(email: string): string {
  const folded = email.trim().normalize('NFKC').toLowerCase().normalize('NFKC');
  const at = folded.lastIndexOf('@');
  if (at < 0) return folded;
  const domain = folded.slice(at + 1).replace(/\.$/, '');
  const ascii = domainToASCII(domain);
  // An empty answer: not a domain (a forbidden character, an empty label, bad punycode).
  return `${folded.slice(0, at)}@${ascii ? domainToUnicode(ascii) : domain}`;
}

/** The canonical spelling of a valid address; BAD_USER_INPUT for anything else. */
export function normalizeEmail(email: string): string {
  const normalized = canonicalEmail(email);
  const domain = normalized.slice(normalized.lastIndexOf('@') + 1);
  if (normalized.length > 254 || !EMAIL.test(normalized) || !domainToASCII(domain)) {
    throw new BadUserInputError('Invalid email address.', 'email');
  }
  return normalized;
}
