// Rule: register enforces the configured password policy with WEAK_PASSWORD and its reasons,
// and passwords are NFKC-normalised, at most 256 characters, never truncated, and valid Unicode;
// the public passwordPolicy query tells a client those rules before it submits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangePasswordDocument, LoginDocument, PasswordPolicyDocument, RegisterDocument } from '../gql/graphql';
import { codeOf, PASSWORD, signUp, uniqueEmail } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';

let gw: TestGateway;
let nist: TestGateway;
beforeAll(async () => {
  gw = await startGateway();
  nist = await startGateway({ env: { PASSWORD_POLICY: 'nist' } });
});
afterAll(async () => {
  await Promise.all([gw?.close(), nist?.close()]);
});

async function rejection(target: TestGateway, password: string) {
  const email = uniqueEmail('weak');
  const result = await target.gql(RegisterDocument, { email, password });
  expect(result.status).toBe(200);
  expect(result.data).toBeNull();
  expect(codeOf(result)).toBe('WEAK_PASSWORD');
  expect(result.errors![0]!.message).toBe('Password does not meet the password policy.');
  return result.errors![0]!.extensions.reasons;
}

async function loginType(target: TestGateway, email: string, password: string) {
  const result = await target.gql(LoginDocument, { email, password });
  return result.data?.login.__typename ?? codeOf(result);
}

async function registers(target: TestGateway, password: string) {
  const email = uniqueEmail('ok');
  const result = await target.gql(RegisterDocument, { email, password });
  expect(result.errors).toBeUndefined();
  expect(result.data?.register).toBe(true);
  return email;
}

describe('composition policy (default)', () => {
  it('answers each rule with its own reason code', async () => {
    expect(await rejection(gw, 'Short-Pw-1!')).toEqual(['TOO_SHORT']);
    expect(await rejection(gw, 'plover-quartz-71!')).toEqual(['MISSING_UPPERCASE']);
    expect(await rejection(gw, 'PLOVER-QUARTZ-71!')).toEqual(['MISSING_LOWERCASE']);
    expect(await rejection(gw, 'Plover-Quartz-xy!')).toEqual(['MISSING_DIGIT']);
    expect(await rejection(gw, 'PloverQuartz71x')).toEqual(['MISSING_SYMBOL']);
    expect(await rejection(gw, `${'Aa1!'.repeat(64)}x`)).toEqual(['TOO_LONG']);
    // 99 KB that NFKC would make 594,000 characters: refused as sent, before anything else.
    expect(await rejection(gw, '\uFDFA'.repeat(33_000))).toEqual(['TOO_LONG']);
    // On the list (case-insensitively) although it meets every composition rule.
    expect(await rejection(gw, 'Nick1234-Rem936')).toEqual(['COMMON_PASSWORD']);
  });

  it('lists every failing rule at once', async () => {
    expect(await rejection(gw, 'abc')).toEqual(['TOO_SHORT', 'MISSING_UPPERCASE', 'MISSING_DIGIT', 'MISSING_SYMBOL']);
  });

  it('creates no account for a rejected password', async () => {
    const email = uniqueEmail('rejected');
    await gw.gql(RegisterDocument, { email, password: 'plover-quartz-71!' });
    expect(await loginType(gw, email, 'plover-quartz-71!')).toBe('INVALID_CREDENTIALS');
  });
});

describe('passwordPolicy', () => {
  it('tells anyone, signed in or not, the rules register enforces under each PASSWORD_POLICY', async () => {
    const composition = await gw.gql(PasswordPolicyDocument, {});
    expect(composition.errors).toBeUndefined();
    expect(composition.data?.passwordPolicy).toEqual({
      minLength: 12,
      maxLength: 256,
      requiresUppercase: true,
      requiresLowercase: true,
      requiresDigit: true,
      requiresSymbol: true,
      refusesCommonPasswords: true,
    });
    expect((await nist.gql(PasswordPolicyDocument, {})).data?.passwordPolicy).toEqual({
      minLength: 15,
      maxLength: 256,
      requiresUppercase: false,
      requiresLowercase: false,
      requiresDigit: false,
      requiresSymbol: false,
      refusesCommonPasswords: true,
    });
    // Signed in, the same answer.
    const user = await signUp(gw);
    expect((await gw.gql(PasswordPolicyDocument, {}, { token: user.accessToken })).data).toEqual(composition.data);
    // What it says is what register does: one character short is TOO_SHORT, the minimum passes.
    for (const [target, fill] of [[gw, 'Aa1!'], [nist, 'zq']] as const) {
      const { minLength } = (await target.gql(PasswordPolicyDocument, {})).data!.passwordPolicy;
      const password = fill.repeat(minLength).slice(0, minLength);
      expect(await rejection(target, password.slice(1))).toEqual(['TOO_SHORT']);
      await registers(target, password);
    }
  });
});

describe('nist policy', () => {
  it('needs 15 characters and no composition', async () => {
    expect(await rejection(nist, 'abcdefghijklmn')).toEqual(['TOO_SHORT']);
    const email = await registers(nist, 'zebra lantern q');
    expect(await loginType(nist, email, 'zebra lantern q')).toBe('AuthPayload');
  });

  it('uses the same common list and the same maximum', async () => {
    expect(await rejection(nist, 'passwordpassword')).toEqual(['COMMON_PASSWORD']);
    expect(await rejection(nist, 'z'.repeat(257))).toEqual(['TOO_LONG']);
  });

  it('still rejects a 12-character password the composition policy accepts', async () => {
    expect(await rejection(nist, 'Plover-Qua7!')).toEqual(['TOO_SHORT']);
  });
});

describe('password handling', () => {
  it('accepts 256 characters and logs in with them', async () => {
    const password = 'Aa1!'.repeat(64);
    const email = await registers(gw, password);
    expect(await loginType(gw, email, password)).toBe('AuthPayload');
  });

  it('never truncates: a 200-character password differing only in its last character does not log in', async () => {
    const password = `${'Plover-Quartz-71!'.repeat(12).slice(0, 199)}a`;
    expect(password).toHaveLength(200);
    const email = await registers(gw, password);
    expect(await loginType(gw, email, `${password.slice(0, -1)}b`)).toBe('INVALID_CREDENTIALS');
    // bcrypt would stop at 72 bytes.
    expect(await loginType(gw, email, password.slice(0, 72))).toBe('INVALID_CREDENTIALS');
    expect(await loginType(gw, email, password)).toBe('AuthPayload');
  });

  it('refuses a password holding a lone surrogate, which would hash as U+FFFD and match another one', async () => {
    for (const password of ['Plover-Quartz-71!\ud800', 'Plover-\udfffQuartz-71!']) {
      const email = uniqueEmail('surrogate');
      const result = await gw.gql(RegisterDocument, { email, password });
      expect(codeOf(result)).toBe('BAD_USER_INPUT');
      expect(result.errors![0]!.extensions.field).toBe('password');
      expect(await loginType(gw, email, password.replace(/[\ud800-\udfff]/, '\ufffd'))).toBe('INVALID_CREDENTIALS');
    }
    const user = await signUp(gw);
    const changed = await gw.gql(
      ChangePasswordDocument,
      { currentPassword: PASSWORD, newPassword: 'Newer-Password-2024!\ud800' },
      { token: user.accessToken },
    );
    expect(codeOf(changed)).toBe('BAD_USER_INPUT');
    expect(changed.errors![0]!.extensions.field).toBe('newPassword');
    expect(await loginType(gw, user.email, PASSWORD)).toBe('AuthPayload');
  });

  it('normalises with NFKC: fullwidth and ASCII forms are the same password', async () => {
    const ascii = 'Plover-Quartz-71!';
    const fullwidth = 'Ｐｌｏｖｅｒ－Ｑｕａｒｔｚ－７１！';
    expect(fullwidth).not.toBe(ascii);
    const first = await registers(gw, fullwidth);
    expect(await loginType(gw, first, ascii)).toBe('AuthPayload');
    const second = await registers(gw, ascii);
    expect(await loginType(gw, second, fullwidth)).toBe('AuthPayload');
  });
});
