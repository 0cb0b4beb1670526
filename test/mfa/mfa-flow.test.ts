// Rule: TOTP MFA is enrolled with the password, confirmed with a code, then required at every login; codes and recovery codes work once.
import { Resvg } from '@resvg/resvg-js';
import { decodeJwt } from 'jose';
import jsQR from 'jsqr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChangePasswordDocument,
  ConfirmMfaDocument,
  DisableMfaDocument,
  EnrollMfaDocument,
  LoginDocument,
  MeDocument,
  RegenerateRecoveryCodesDocument,
  VerifyMfaDocument,
} from '../gql/graphql';
import { codeOf, signUp } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { challenge, loginWithMfa, sessionCountOf, totpAt, totpNow, wrongCode } from '../helpers/mfa';
import { logIn, refreshCode, rotate } from '../helpers/sessions';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway({ env: { MFA_LIMIT_USER: '1000/900' } });
});
afterAll(() => gw?.close());

const amrOf = (accessToken: string) => decodeJwt(accessToken).amr;

describe('MFA, the whole story', () => {
  it('enrols, challenges, refuses replays, spends recovery codes once, regenerates and disables', async () => {
    const user = await signUp(gw);
    const { email, password } = user;
    const current = await logIn(gw, email, password);
    const auth = { token: current.accessToken };

    const wrong = await gw.gql(EnrollMfaDocument, { password: 'Wrong-Password-99!' }, auth);
    expect(codeOf(wrong)).toBe('INVALID_CREDENTIALS');
    expect(wrong.errors![0]!.message).toBe('Invalid password.');
    const enrolled = await gw.gql(EnrollMfaDocument, { password }, auth);
    expect(enrolled.errors).toBeUndefined();
    const { secret, otpauthUri, qrCodeSvg } = enrolled.data!.enrollMfa;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/); // 160 bits, base32
    expect(otpauthUri).toMatch(/^otpauth:\/\/totp\//);
    expect(otpauthUri).toContain('issuer=graphql-auth-gateway');
    expect(otpauthUri).toContain(encodeURIComponent(email));
    expect(otpauthUri).toContain(`secret=${secret}`);
    expect(qrCodeSvg).toMatch(/^<svg/);

    expect(codeOf(await gw.gql(ConfirmMfaDocument, { code: wrongCode(totpNow(gw, secret)) }, auth))).toBe('INVALID_MFA_CODE');
    expect((await gw.gql(MeDocument, {}, auth)).data!.me!.mfaEnabled).toBe(false);
    const confirmed = await gw.gql(ConfirmMfaDocument, { code: totpNow(gw, secret) }, auth);
    expect(confirmed.errors).toBeUndefined();
    const recoveryCodes = confirmed.data!.confirmMfa;
    expect(recoveryCodes).toHaveLength(10);
    for (const code of recoveryCodes) expect(code).toMatch(/^[a-z1-9]{4}-[a-z1-9]{4}-[a-z1-9]{4}-[a-z1-9]{4}$/);
    expect(new Set(recoveryCodes).size).toBe(10);
    expect((await gw.gql(MeDocument, {}, auth)).data!.me!.mfaEnabled).toBe(true);

    // Enabling ended the older session (from signUp) and kept the current one.
    expect(await refreshCode(gw, user.refreshToken)).toBe('INVALID_TOKEN');
    await rotate(gw, current.refreshToken);
    expect(codeOf(await gw.gql(EnrollMfaDocument, { password }, auth))).toBe('MFA_ALREADY_ENABLED');

    // Login is now a challenge, and no session exists yet.
    const before = await sessionCountOf(gw, user.user.id);
    const step = await challenge(gw, email, password);
    expect(step.methods).toEqual(['TOTP', 'RECOVERY_CODE']);
    const expiresIn = new Date(step.expiresAt as string).getTime() - gw.clock.now().getTime();
    expect(expiresIn).toBeGreaterThan(0);
    expect(expiresIn).toBeLessThanOrEqual(300_000);
    expect(await sessionCountOf(gw, user.user.id)).toBe(before);

    expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken: step.mfaToken, code: wrongCode(totpNow(gw, secret)) }))).toBe(
      'INVALID_MFA_CODE',
    );
    gw.clock.advance(30); // the confirming code's step is spent
    const code = totpNow(gw, secret);
    const verified = await gw.gql(VerifyMfaDocument, { mfaToken: step.mfaToken, code });
    expect(verified.errors).toBeUndefined();
    const otpSession = verified.data!.verifyMfa;
    expect(amrOf(otpSession.accessToken)).toEqual(['pwd', 'otp']);
    expect(await sessionCountOf(gw, user.user.id)).toBe(before + 1);
    const refreshed = await rotate(gw, otpSession.refreshToken);
    expect(amrOf(refreshed.accessToken)).toEqual(['pwd', 'otp']);

    // Replay: the same code on a new challenge.
    const replay = await challenge(gw, email, password);
    expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken: replay.mfaToken, code }))).toBe('INVALID_MFA_CODE');

    // A recovery code works once, whatever its case.
    const rcodeSession = await loginWithMfa(gw, email, password, recoveryCodes[0]!.toUpperCase());
    expect(amrOf(rcodeSession.accessToken)).toEqual(['pwd', 'rcode']);
    const again = await challenge(gw, email, password);
    expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken: again.mfaToken, code: recoveryCodes[0]! }))).toBe('INVALID_MFA_CODE');

    // Regenerating kills the old set.
    const rAuth = { token: rcodeSession.accessToken };
    gw.clock.advance(30);
    const regenerated = await gw.gql(RegenerateRecoveryCodesDocument, { code: totpNow(gw, secret) }, rAuth);
    expect(regenerated.errors).toBeUndefined();
    const newCodes = regenerated.data!.regenerateRecoveryCodes;
    expect(newCodes).toHaveLength(10);
    expect(newCodes.filter((c) => recoveryCodes.includes(c))).toEqual([]);
    const old = await challenge(gw, email, password);
    expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken: old.mfaToken, code: recoveryCodes[1]! }))).toBe('INVALID_MFA_CODE');
    const newSet = await gw.gql(VerifyMfaDocument, { mfaToken: old.mfaToken, code: newCodes[0]! });
    expect(newSet.errors).toBeUndefined();

    // Disabling needs a code, ends the other sessions and keeps the current one.
    expect(codeOf(await gw.gql(DisableMfaDocument, { code: wrongCode(totpNow(gw, secret)) }, rAuth))).toBe('INVALID_MFA_CODE');
    expect(codeOf(await gw.gql(DisableMfaDocument, { code: 'not-a-code' }, rAuth))).toBe('INVALID_MFA_CODE');
    gw.clock.advance(30);
    const disabled = await gw.gql(DisableMfaDocument, { code: totpNow(gw, secret) }, rAuth);
    expect(disabled.errors).toBeUndefined();
    expect(disabled.data!.disableMfa).toBe(true);
    expect(await refreshCode(gw, refreshed.refreshToken)).toBe('INVALID_TOKEN');
    await rotate(gw, rcodeSession.refreshToken);

    const single = await gw.gql(LoginDocument, { email, password });
    expect(single.data!.login.__typename).toBe('AuthPayload');
    expect(codeOf(await gw.gql(DisableMfaDocument, { code: totpNow(gw, secret) }, rAuth))).toBe('MFA_NOT_ENABLED');
    expect(codeOf(await gw.gql(RegenerateRecoveryCodesDocument, { code: totpNow(gw, secret) }, rAuth))).toBe('MFA_NOT_ENABLED');
  });

  it('leaves login single-factor while an enrolment is pending, and a new enrolment replaces the pending secret', async () => {
    const user = await signUp(gw);
    const auth = { token: user.accessToken };
    const first = (await gw.gql(EnrollMfaDocument, { password: user.password }, auth)).data!.enrollMfa;
    expect((await gw.gql(LoginDocument, { email: user.email, password: user.password })).data!.login.__typename).toBe('AuthPayload');
    expect((await gw.gql(MeDocument, {}, auth)).data!.me!.mfaEnabled).toBe(false);

    const second = (await gw.gql(EnrollMfaDocument, { password: user.password }, auth)).data!.enrollMfa;
    expect(second.secret).not.toBe(first.secret);
    const now = gw.clock.now();
    expect(totpAt(first.secret, now)).not.toBe(totpAt(second.secret, now)); // 1 in 10^6 coincidence otherwise
    expect(codeOf(await gw.gql(ConfirmMfaDocument, { code: totpAt(first.secret, now) }, auth))).toBe('INVALID_MFA_CODE');
    expect((await gw.gql(ConfirmMfaDocument, { code: totpAt(second.secret, now) }, auth)).data!.confirmMfa).toHaveLength(10);
    await challenge(gw, user.email, user.password);
  });

  it('lets a pending enrolment be confirmed for 15 minutes, and not after the end of all sessions', async () => {
    const user = await signUp(gw);
    const late = (await gw.gql(EnrollMfaDocument, { password: user.password }, { token: user.accessToken })).data!.enrollMfa;
    gw.clock.advance(900);
    const auth = { token: (await logIn(gw, user.email, user.password)).accessToken };
    const expired = await gw.gql(ConfirmMfaDocument, { code: totpNow(gw, late.secret) }, auth);
    expect(codeOf(expired)).toBe('BAD_USER_INPUT');
    // The code is not what is wrong: no field for a form to mark.
    expect(expired.errors![0]!.extensions).toEqual({ code: 'BAD_USER_INPUT' });

    const before = (await gw.gql(EnrollMfaDocument, { password: user.password }, auth)).data!.enrollMfa;
    const newPassword = 'Another-Engine-1871!';
    const changed = await gw.gql(ChangePasswordDocument, { currentPassword: user.password, newPassword }, auth);
    expect(changed.errors).toBeUndefined();
    // The caller's session lives on, but the secret shown before the change is void: no code
    // is checked against it, a wrong one included (no INVALID_MFA_CODE, nothing counted).
    expect(codeOf(await gw.gql(ConfirmMfaDocument, { code: wrongCode(totpNow(gw, before.secret)) }, auth))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gw.gql(ConfirmMfaDocument, { code: totpNow(gw, before.secret) }, auth))).toBe('BAD_USER_INPUT');
    expect((await gw.gql(MeDocument, {}, auth)).data!.me!.mfaEnabled).toBe(false);

    const after = (await gw.gql(EnrollMfaDocument, { password: newPassword }, auth)).data!.enrollMfa;
    expect((await gw.gql(ConfirmMfaDocument, { code: totpNow(gw, after.secret) }, auth)).data!.confirmMfa).toHaveLength(10);
  });

  it('draws a QR code that scans to exactly the otpauth URI', async () => {
    const user = await signUp(gw);
    const { otpauthUri, qrCodeSvg } = (await gw.gql(EnrollMfaDocument, { password: user.password }, { token: user.accessToken }))
      .data!.enrollMfa;
    const image = new Resvg(qrCodeSvg, { fitTo: { mode: 'width', value: 400 }, background: 'white' }).render();
    const decoded = jsQR(new Uint8ClampedArray(image.pixels), image.width, image.height);
    expect(decoded?.data).toBe(otpauthUri);
  });
});
