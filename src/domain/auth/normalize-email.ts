import { domainToASCII, domainToUnicode } from 'node:url';
import { BadUserInputError } from '../../errors';

/** Longer input is no address (254 is the limit; NFKC may shorten a little): not worked on. */
const MAX_INPUT_LENGTH = 320;

// Deliberately loose (one @, no spaces): the mailbox is the real check. The local part holds no
// character of Unicode's "other" categories: control characters (PostgreSQL's text cannot hold
// a NUL), lone surrogates, and the invisible format characters (zero-width spaces and joiners,
// soft hyphens, bidirectional overrides) that make one address look like another.
const LOCAL_PART = /^[^\s@\p{C}]+$/u;
// At least two labels, none empty, and no character a URL parser would read instead of a
// host's (% / ? # \ : [ ]): Node's domainToASCII is the WHATWG URL host parser, which decodes
// %2e into a dot and stops at a /. The rest is IDNA's to check (domainToASCII, below).
const DOMAIN = /^[^\s@%/?#\\:[\].]+(\.[^\s@%/?#\\:[\].]+)+$/u;
// The dots UTS #46 maps to a full stop (ideographic, full-width, half-width ideographic): NFKC maps
// only the full-width one, and DOMAIN needs them as dots before IDNA sees the name.
const IDEOGRAPHIC_DOTS = /[\u3002\uff0e\uff61]/g;
// A last label that is a number (decimal, or 0x hex) makes the URL parser read the whole name as
// an IPv4 address (x@127.1 would become x@127.0.0.1): no top-level domain is one.
const NUMERIC_LAST_LABEL = /\.(\d+|0x[0-9a-f]*)$/i;

/**
 * The one spelling of an address, so that addresses that read the same are one account (and
 * one rate-limit bucket); null for what is no address. Trimmed and NFKC-normalised (é typed as
 * e + ´, full-width letters, ligatures); the local part lower-cased; the domain as UTS #46 maps
 * it (its case, its punycode xn-- form and its Unicode form are one domain; characters that
 * mean nothing in a name, such as a zero-width space, dropped), in Unicode, without the
 * trailing dot of a fully qualified name. Its answers are canonical too: given back unchanged.
 */
export function canonicalEmail(email: string): string | null {
  if (email.length > MAX_INPUT_LENGTH) return null;
  const folded = email.trim().normalize('NFKC');
  const at = folded.lastIndexOf('@');
  if (at <= 0) return null;
  const local = folded.slice(0, at).toLowerCase().normalize('NFKC');
  const domain = folded.slice(at + 1).replace(IDEOGRAPHIC_DOTS, '.').replace(/\.$/, '');
  if (!LOCAL_PART.test(local) || !DOMAIN.test(domain) || NUMERIC_LAST_LABEL.test(domain)) return null;
  // Empty: not a domain (an invalid label, bad punycode, a joiner out of place).
  const ascii = domainToASCII(domain);
  const unicode = ascii && domainToUnicode(ascii);
  // Checked again: IDNA drops what means nothing in a name (x@127.1 + a zero-width space).
  if (!unicode || !DOMAIN.test(unicode) || NUMERIC_LAST_LABEL.test(unicode)) return null;
  const canonical = `${local}@${unicode}`;
  return canonical.length <= 254 ? canonical : null;
}

/** The canonical spelling of a valid address; BAD_USER_INPUT for anything else. */
export function normalizeEmail(email: string): string {
  const canonical = canonicalEmail(email);
  if (!canonical) throw new BadUserInputError('Invalid email address.', 'email');
  return canonical;
}
