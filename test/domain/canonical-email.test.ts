// Rule: an address has one spelling (canonicalEmail): NFKC, the local part lower-cased, the
// domain as UTS #46 maps it, without a trailing dot; that spelling is its own, and what a URL
// parser would read differently, or what is no address, is refused (null, BAD_USER_INPUT).
import { describe, expect, it } from 'vitest';
import { canonicalEmail, normalizeEmail } from '../../src/domain/auth/normalize-email';

describe('canonicalEmail', () => {
  it('gives every spelling of one address one answer', () => {
    const cases: Array<[string, string]> = [
      ['José@Example.COM', 'josé@example.com'],
      ['jose\u0301@example.com', 'josé@example.com'], // NFD
      ['\uff45\uff56\uff45@example.com', 'eve@example.com'], // full-width
      ['bob@xn--bcher-kva.example', 'bob@bücher.example'], // punycode
      ['bob@BÜCHER.example.', 'bob@bücher.example'], // case, trailing dot
      ['x@mail.ΟΔΟΣ', 'x@mail.οδοσ'], // the domain's case as IDNA maps it (σ, not a final ς)
      ['a@ex\u200bample.com', 'a@example.com'], // IDNA drops what means nothing in a name
      [' \u210cal@example.com ', 'hal@example.com'], // NFKC, then lower case
      ['kim@example\u3002com', 'kim@example.com'], // ideographic full stop, its only dot
      ['kim@mail\uff61example\u3002com\u3002', 'kim@mail.example.com'], // half-width ideographic, and trailing
    ];
    for (const [input, canonical] of cases) expect(canonicalEmail(input), input).toBe(canonical);
  });

  it('gives its own answers back unchanged', () => {
    for (const input of ['José@Example.COM', 'bob@xn--bcher-kva.example', 'a@example.com.', 'x@mail.ΟΔΟΣ', 'x@می\u200cخواهم.ir', 'user+tag@sub.example.co.uk']) {
      const once = canonicalEmail(input)!;
      expect(once, input).not.toBeNull();
      expect(canonicalEmail(once), input).toBe(once);
    }
  });

  it('refuses what a URL parser would read as another host, empty labels, and invisible characters in the local part', () => {
    for (const input of [
      'victim@x.test..',
      'victim@x.test%2e',
      'bob@ex%61mple.com',
      'bob@example.com/x.evil',
      'bob@example.com?x.y',
      'bob@example.com#x.y',
      'bob@example.com\\x.y',
      'bob@[127.0.0.1]',
      'bob@.example.com',
      'bob@example..com',
      'bob@localhost',
      'x@127.1', // a URL parser reads these as IPv4 addresses
      'x@0x7f.0.0.1',
      'y@1.2.3.010',
      'x@127.1\u200b', // the same once IDNA has dropped what means nothing in a name
      'x@1.2.3.4\u00ad',
      'x@127.0\u30021', // an ideographic full stop is a dot
      'x@10.0\u30020x1',
      'a\u200bb@example.com',
      '\u202eab@example.com',
      'ab\ud800@example.com',
      'no-at-sign.example.com',
      `${'a'.repeat(321)}@example.com`,
    ]) {
      expect(canonicalEmail(input), JSON.stringify(input)).toBeNull();
      expect(() => normalizeEmail(input)).toThrow('Invalid email address.');
    }
  });

  it('keeps a joiner a script needs in the domain (IDNA checks its context)', () => {
    expect(canonicalEmail('x@می\u200cخواهم.ir')).toBe('x@می\u200cخواهم.ir');
  });
});
