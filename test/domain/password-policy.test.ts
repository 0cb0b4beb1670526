// Rule: the password policy (composition by default, nist on request) rejects with every
// applicable reason, counts NFKC code points up to 256, and checks a list of >= 10,000 common passwords.
import { describe, expect, it, vi } from 'vitest';
import {
  checkPasswordPolicy,
  MAX_PASSWORD_LENGTH,
  MAX_SENT_PASSWORD_UNITS,
  normalizePassword,
} from '../../src/domain/passwords/check-password-policy';
import { commonPasswordCount, isCommonPassword } from '../../src/domain/passwords/common-passwords';

describe('composition policy', () => {
  const check = (p: string) => checkPasswordPolicy(p, 'composition');

  it('accepts 12 characters with upper, lower, digit and symbol', () => {
    expect(check('Plover-Qua7!')).toEqual([]);
  });

  it('names each missing class on its own', () => {
    expect(check('Short-Pw-1!')).toEqual(['TOO_SHORT']);
    expect(check('plover-quartz-71!')).toEqual(['MISSING_UPPERCASE']);
    expect(check('PLOVER-QUARTZ-71!')).toEqual(['MISSING_LOWERCASE']);
    expect(check('Plover-Quartz-xy!')).toEqual(['MISSING_DIGIT']);
    expect(check('PloverQuartz71x')).toEqual(['MISSING_SYMBOL']);
  });

  it('returns every reason at once', () => {
    expect(check('')).toEqual(['TOO_SHORT', 'MISSING_UPPERCASE', 'MISSING_LOWERCASE', 'MISSING_DIGIT', 'MISSING_SYMBOL']);
  });

  it('treats spaces and non-ASCII punctuation as symbols and non-ASCII letters as letters', () => {
    expect(check('Plover Quartz 71')).toEqual([]);
    expect(check('Ärger-über-71ß')).toEqual([]);
    // Any decimal digit counts as a digit, not as a symbol: Arabic-Indic ٧١ (NFKC keeps them).
    expect(check('Plover-Quartz-٧١')).toEqual([]);
    expect(check('PloverQuartz٧١x')).toEqual(['MISSING_SYMBOL']);
  });

  it('rejects a common password that meets every composition rule, case-insensitively', () => {
    // 'Password123!' is not on the shipped list; these entries are (checked with isCommonPassword).
    expect(isCommonPassword('nick1234-rem936')).toBe(true);
    expect(check('Nick1234-Rem936')).toEqual(['COMMON_PASSWORD']);
    expect(check('P030710p$E4o')).toEqual(['COMMON_PASSWORD']);
  });
});

describe('nist policy', () => {
  const check = (p: string) => checkPasswordPolicy(p, 'nist');

  it('needs 15 characters and nothing else', () => {
    expect(check('abcdefghijklmn')).toEqual(['TOO_SHORT']);
    expect(check('correct horse b')).toEqual([]);
    expect(check('zzzzzzzzzzzzzzz')).toEqual([]);
  });

  it('uses the same common list', () => {
    expect(check('passwordpassword')).toEqual(['COMMON_PASSWORD']);
    expect(check('Qwerty123456789')).toEqual(['COMMON_PASSWORD']);
  });
});

describe('both policies', () => {
  it.each(['composition', 'nist'] as const)('%s: 256 characters pass, 257 are TOO_LONG', (policy) => {
    const base = 'Aa1!'.repeat(64);
    expect(base).toHaveLength(MAX_PASSWORD_LENGTH);
    expect(checkPasswordPolicy(base, policy)).toEqual([]);
    expect(checkPasswordPolicy(`${base}x`, policy)).toEqual(['TOO_LONG']);
  });

  it('counts code points of the NFKC form, so an emoji is one character', () => {
    const emoji = '🔑'.repeat(256);
    expect(checkPasswordPolicy(emoji, 'nist')).toEqual([]);
    expect(checkPasswordPolicy(`${emoji}🔑`, 'nist')).toEqual(['TOO_LONG']);
  });

  it('takes every password of 256 characters once normalized, however many UTF-16 units it takes as sent, and refuses one over 2,048 units as TOO_LONG unexamined', () => {
    // Each a single character in NFKC: a letter with three combining marks (4 units), a
    // mathematical alpha with three Greek marks (5), three supplementary-plane characters that
    // Unicode 16 composes into one (6).
    for (const [sent, units] of [
      ['\u1F8F'.normalize('NFD'), 4],
      ['\u{1D6C2}\u0314\u0342\u0345', 5],
      ['\u{1611E}\u{1611E}\u{1611F}', 6],
    ] as const) {
      expect(sent).toHaveLength(units);
      const password = sent.repeat(256);
      expect([...normalizePassword(password)]).toHaveLength(256);
      expect(checkPasswordPolicy(password, 'nist'), sent).toEqual([]);
    }
    const atTheBound = 'x'.repeat(MAX_SENT_PASSWORD_UNITS);
    expect(MAX_SENT_PASSWORD_UNITS).toBe(2048);
    expect(checkPasswordPolicy(atTheBound, 'nist')).toEqual(['TOO_LONG']); // 2,048 characters: normalized and counted
    // Examined, so every other reason is named too.
    expect(checkPasswordPolicy(atTheBound, 'composition')).toEqual(['TOO_LONG', 'MISSING_UPPERCASE', 'MISSING_DIGIT', 'MISSING_SYMBOL']);
    const normalize = vi.spyOn(String.prototype, 'normalize');
    try {
      expect(checkPasswordPolicy(`${atTheBound}x`, 'nist')).toEqual(['TOO_LONG']);
      // U+FDFA is 18 characters in NFKC: a 100 KB body of it would be 594,000 to examine.
      expect(checkPasswordPolicy('\uFDFA'.repeat(33_000), 'composition')).toEqual(['TOO_LONG']);
      expect(normalize).not.toHaveBeenCalled();
    } finally {
      normalize.mockRestore();
    }
  });

  it('normalises compatibility forms before checking', () => {
    const fullwidth = 'Ｐｌｏｖｅｒ－Ｑｕａｒｔｚ－７１！';
    expect(normalizePassword(fullwidth)).toBe('Plover-Quartz-71!');
    // The fullwidth form of a common password is the common password.
    expect(checkPasswordPolicy('ｐａｓｓｗｏｒｄｐａｓｓｗｏｒｄ', 'nist')).toEqual(['COMMON_PASSWORD']);
  });

  it('ships a common list of at least 10,000 entries', () => {
    expect(commonPasswordCount()).toBeGreaterThanOrEqual(10_000);
  });
});
