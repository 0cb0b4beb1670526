// Rule: the second factor cannot be bypassed, guessed in bulk, replayed or read back from the database or the logs.
import { eq, inArray, sql } from 'drizzle-orm';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEncryptionKeys } from '../../src/config';
import { forgetEncryptionKey, prune, reencrypt, resetMfa } from '../../src/domain/admin';
import { sealTotpSecret } from '../../src/domain/mfa';
import { hashOpaqueToken } from '../../src/domain/tokens';
import { SecretBox, generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { findMissingEncryptionKeys } from '../../src/domain/crypto/find-missing-encryption-keys';
import { PostgresEncryptionKeyHistory, PostgresSigningKeyStore } from '../../src/storage/postgres';
import { mfaChallenges, mfaFactors, recoveryCodes } from '../../src/storage/postgres/schema';
import {
  ConfirmMfaDocument,
  DisableMfaDocument,
  EnrollMfaDocument,
  LogoutAllDocument,
  MeDocument,
  RefreshDocument,
  RegenerateRecoveryCodesDocument,
  TwoVerifyMfaDocument,
  VerifyMfaDocument,
} from '../gql/graphql';
import { codeOf, signUp } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { beforeNextCall } from '../helpers/hooks';
import { challenge, enableMfa, loginWithMfa, totpNow, wrongCode } from '../helpers/mfa';
import { cancelWaitingStatement, holdingRowLock } from '../helpers/row-locks';
import { logIn, sessionIdOf } from '../helpers/sessions';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway({ env: { MFA_LIMIT_USER: '1000/900' } });
});
afterAll(() => gw?.close());

async function mfaUser(target = gw) {
  const user = await signUp(target);
  const factor = await enableMfa(target, user.accessToken, user.password);
  target.clock.advance(30); // the confirming code's step is spent
  return { ...user, ...factor };
}

describe('the mfaToken', () => {
  it('is no bearer token and no refresh token', async () => {
    const user = await mfaUser();
    const { mfaToken } = await challenge(gw, user.email, user.password);
    expect(codeOf(await gw.gql(MeDocument, {}, { token: mfaToken }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await gw.gql(RefreshDocument, { refreshToken: mfaToken }))).toBe('INVALID_TOKEN');
    expect((await gw.gql(VerifyMfaDocument, { mfaToken, code: totpNow(gw, user.secret) })).errors).toBeUndefined();
  });

  it('is single-use, lives five minutes, and an unknown one is INVALID_TOKEN', async () => {
    const user = await mfaUser();
    const spent = await challenge(gw, user.email, user.password);
    expect((await gw.gql(VerifyMfaDocument, { mfaToken: spent.mfaToken, code: totpNow(gw, user.secret) })).errors).toBeUndefined();
    gw.clock.advance(30);
    expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken: spent.mfaToken, code: totpNow(gw, user.secret) }))).toBe('INVALID_TOKEN');

    const expired = await challenge(gw, user.email, user.password);
    gw.clock.advance(301);
    expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken: expired.mfaToken, code: totpNow(gw, user.secret) }))).toBe(
      'INVALID_TOKEN',
    );
    expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken: 'no-such-token', code: totpNow(gw, user.secret) }))).toBe('INVALID_TOKEN');
  });

  it('once spent, checks no code at all: a wrong one is INVALID_TOKEN too, neither audited nor counted', async () => {
    const user = await mfaUser();
    const { mfaToken } = await challenge(gw, user.email, user.password);
    const right = totpNow(gw, user.secret);
    expect((await gw.gql(VerifyMfaDocument, { mfaToken, code: right })).errors).toBeUndefined();
    const from = gw.logs.length;
    for (let i = 0; i < 3; i++) expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken, code: wrongCode(right) }))).toBe('INVALID_TOKEN');
    expect(gw.logs.slice(from).filter((line) => line.includes('"mfa code rejected"'))).toEqual([]);
  });

  it('once expired, checks no code at all: a wrong one is INVALID_TOKEN too, neither audited nor counted', async () => {
    const user = await mfaUser();
    const { mfaToken } = await challenge(gw, user.email, user.password);
    gw.clock.advance(301);
    const from = gw.logs.length;
    const wrong = wrongCode(totpNow(gw, user.secret));
    for (let i = 0; i < 3; i++) expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken, code: wrong }))).toBe('INVALID_TOKEN');
    expect(gw.logs.slice(from).filter((line) => line.includes('"mfa code rejected"'))).toEqual([]);
  });

  it('from before all sessions ended spends no code: the recovery code it was sent with still signs in', async () => {
    const user = await mfaUser();
    const { mfaToken } = await challenge(gw, user.email, user.password);
    expect((await gw.gql(LogoutAllDocument, {}, { token: user.accessToken })).errors).toBeUndefined();
    const code = user.recoveryCodes[0]!;
    expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken, code }))).toBe('INVALID_TOKEN');
    expect((await loginWithMfa(gw, user.email, user.password, code)).user.id).toBe(user.user.id);
  });

  it('dies after five wrong codes: the sixth try, even right, is INVALID_TOKEN', async () => {
    const user = await mfaUser();
    const { mfaToken } = await challenge(gw, user.email, user.password);
    const right = totpNow(gw, user.secret);
    for (let i = 0; i < 5; i++) {
      expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken, code: wrongCode(right) }))).toBe('INVALID_MFA_CODE');
    }
    expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken, code: right }))).toBe('INVALID_TOKEN');
    // The code itself was never accepted: a fresh challenge takes it.
    await loginWithMfa(gw, user.email, user.password, right);
  });

  it('allows one verifyMfa per operation', async () => {
    const user = await mfaUser();
    const { mfaToken } = await challenge(gw, user.email, user.password);
    const result = await gw.gql(TwoVerifyMfaDocument, { mfaToken, a: '000000', b: totpNow(gw, user.secret) });
    expect(codeOf(result)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(result.data ?? null).toBeNull();
  });
});

describe('replay', () => {
  it('accepts one valid code exactly once across 10 concurrent challenges', async () => {
    const user = await mfaUser();
    const challenges = [];
    for (let i = 0; i < 10; i++) challenges.push(await challenge(gw, user.email, user.password));
    const code = totpNow(gw, user.secret);
    const results = await Promise.all(challenges.map(({ mfaToken }) => gw.gql(VerifyMfaDocument, { mfaToken, code })));
    expect(results.filter((r) => r.data?.verifyMfa?.accessToken)).toHaveLength(1);
    expect(results.map(codeOf).filter((c) => c === 'INVALID_MFA_CODE')).toHaveLength(9);
  });
});

describe('regenerateRecoveryCodes', () => {
  it('takes a TOTP code only: a recovery code is INVALID_MFA_CODE, and the old set stays, unspent', async () => {
    const user = await mfaUser();
    const auth = { token: (await loginWithMfa(gw, user.email, user.password, totpNow(gw, user.secret))).accessToken };
    expect(codeOf(await gw.gql(RegenerateRecoveryCodesDocument, { code: user.recoveryCodes[0]! }, auth))).toBe('INVALID_MFA_CODE');
    // Neither spent nor replaced: that very code still signs in.
    expect((await loginWithMfa(gw, user.email, user.password, user.recoveryCodes[0]!)).user.id).toBe(user.user.id);
  });
});

describe('MFA_LIMIT_USER', () => {
  /** `times` wrong codes, each on a challenge of its own. */
  async function failOnFreshChallenges(target: TestGateway, user: Awaited<ReturnType<typeof mfaUser>>, times: number) {
    for (let i = 0; i < times; i++) {
      const { mfaToken } = await challenge(target, user.email, user.password);
      expect(codeOf(await target.gql(VerifyMfaDocument, { mfaToken, code: wrongCode(totpNow(target, user.secret)) }))).toBe('INVALID_MFA_CODE');
    }
  }

  it('answers RATE_LIMITED after the allowed failures, across fresh challenges', async () => {
    const limited = await startGateway({ env: { MFA_LIMIT_USER: '3/900' } });
    try {
      const user = await mfaUser(limited);
      await failOnFreshChallenges(limited, user, 3);
      const { mfaToken } = await challenge(limited, user.email, user.password);
      const blocked = await limited.gql(VerifyMfaDocument, { mfaToken, code: totpNow(limited, user.secret) });
      expect(codeOf(blocked)).toBe('RATE_LIMITED');
      expect(blocked.errors![0]!.extensions.retryAfter).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });

  it('backs off after MFA_LIMIT_CONSECUTIVE failures since the last accepted code, for 900 s first', async () => {
    const limited = await startGateway({ env: { MFA_LIMIT_USER: '1000/900', MFA_LIMIT_CONSECUTIVE: '3/1209600' } });
    try {
      const user = await mfaUser(limited);
      const { mfaToken } = await challenge(limited, user.email, user.password);
      for (let i = 0; i < 3; i++) {
        expect(codeOf(await limited.gql(VerifyMfaDocument, { mfaToken, code: wrongCode(totpNow(limited, user.secret)) }))).toBe(
          'INVALID_MFA_CODE',
        );
      }
      const fresh = await challenge(limited, user.email, user.password);
      const blocked = await limited.gql(VerifyMfaDocument, { mfaToken: fresh.mfaToken, code: totpNow(limited, user.secret) });
      expect(codeOf(blocked)).toBe('RATE_LIMITED');
      expect(blocked.errors![0]!.extensions.retryAfter).toBeGreaterThan(890);
      expect(blocked.errors![0]!.extensions.retryAfter).toBeLessThanOrEqual(900);
    } finally {
      await limited.close();
    }
  });

  it("starts over at an operator's reset-mfa, so that the user it locked out can enrol again", async () => {
    const limited = await startGateway({ env: { MFA_LIMIT_USER: '3/900' } });
    try {
      const user = await mfaUser(limited);
      await failOnFreshChallenges(limited, user, 3);
      const reset = await resetMfa(limited.deps, user.email);
      expect(reset).toMatchObject({ removed: { removed: true, wasOn: true }, countersCleared: true });
      // The password alone now; confirming a new enrolment checks a code, counted as verifyMfa's.
      const login = await logIn(limited, user.email, user.password);
      const enrolled = await limited.gql(EnrollMfaDocument, { password: user.password }, { token: login.accessToken });
      expect(enrolled.errors).toBeUndefined();
      const code = totpNow(limited, enrolled.data!.enrollMfa.secret);
      const confirmed = await limited.gql(ConfirmMfaDocument, { code }, { token: login.accessToken });
      expect(confirmed.errors).toBeUndefined();
      // Run again (MFA back on, then off): still clears, and with nothing to remove too.
      expect(await resetMfa(limited.deps, user.email)).toMatchObject({ removed: { removed: true }, countersCleared: true });
      expect(await resetMfa(limited.deps, user.email)).toEqual({ removed: null, countersCleared: true });
    } finally {
      await limited.close();
    }
  });

  it("takes none of a challenge's attempts for a RATE_LIMITED answer, which checked no code", async () => {
    const limited = await startGateway({ env: { MFA_LIMIT_USER: '2/900', MFA_ATTEMPTS_PER_CHALLENGE: '3' } });
    try {
      const user = await mfaUser(limited);
      const first = await challenge(limited, user.email, user.password);
      for (let i = 0; i < 2; i++) {
        const wrong = await limited.gql(VerifyMfaDocument, { mfaToken: first.mfaToken, code: wrongCode(totpNow(limited, user.secret)) });
        expect(codeOf(wrong)).toBe('INVALID_MFA_CODE');
      }
      const second = await challenge(limited, user.email, user.password);
      for (let i = 0; i < 4; i++) {
        expect(codeOf(await limited.gql(VerifyMfaDocument, { mfaToken: second.mfaToken, code: totpNow(limited, user.secret) }))).toBe(
          'RATE_LIMITED',
        );
      }
      const [row] = await limited.database.db
        .select({ failedAttempts: mfaChallenges.failedAttempts })
        .from(mfaChallenges)
        .where(eq(mfaChallenges.tokenHash, hashOpaqueToken(second.mfaToken)));
      expect(row!.failedAttempts).toBe(0);
    } finally {
      await limited.close();
    }
  });
});

describe('at rest and in the logs', () => {
  it('stores no usable secret, code or token, and logs the events without them', async () => {
    const user = await mfaUser();
    const { mfaToken } = await challenge(gw, user.email, user.password);
    const db = gw.database.db;
    const [factor] = await db.select().from(mfaFactors).where(eq(mfaFactors.userId, user.user.id));
    expect(factor!.secretCiphertext).not.toBe(user.secret);
    expect(factor!.secretCiphertext).not.toContain(user.secret);
    expect(Buffer.from(factor!.secretCiphertext, 'base64').toString('latin1')).not.toContain(user.secret);

    const codes = await db.select().from(recoveryCodes).where(eq(recoveryCodes.userId, user.user.id));
    expect(codes).toHaveLength(10);
    // Salted with the user id: the same code of two users is stored differently.
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
    const normalized = user.recoveryCodes.map((code) => code.replaceAll('-', ''));
    expect(codes.map((c) => c.codeHash).sort()).toEqual(normalized.map((code) => sha256(`${user.user.id}:${code}`)).sort());
    const codeDump = JSON.stringify(codes);
    for (const code of user.recoveryCodes) {
      expect(codeDump).not.toContain(code);
      expect(codeDump).not.toContain(code.replace('-', ''));
    }
    const challengeDump = JSON.stringify(await db.select().from(mfaChallenges).where(eq(mfaChallenges.userId, user.user.id)));
    expect(challengeDump).not.toContain(mfaToken);

    const auth = { token: (await loginWithMfa(gw, user.email, user.password, totpNow(gw, user.secret))).accessToken };
    gw.clock.advance(30);
    const fresh = await gw.gql(RegenerateRecoveryCodesDocument, { code: totpNow(gw, user.secret) }, auth);
    expect(fresh.errors).toBeUndefined();
    gw.clock.advance(30);
    expect((await gw.gql(DisableMfaDocument, { code: totpNow(gw, user.secret) }, auth)).data?.disableMfa).toBe(true);

    for (const event of ['mfa enabled', 'mfa recovery codes regenerated', 'mfa disabled']) {
      const lines = gw.logs.filter((l) => l.includes(`"${event}"`) && l.includes(user.user.id));
      expect(lines, event).toHaveLength(1);
      expect(JSON.parse(lines[0]!).level).toBe(30); // info
    }
    const allLogs = gw.logs.join('\n');
    expect(allLogs).not.toContain(user.secret);
    for (const code of [...user.recoveryCodes, ...fresh.data!.regenerateRecoveryCodes]) expect(allLogs).not.toContain(code);
    expect(allLogs).not.toContain(mfaToken);
  });

  it("binds a sealed secret to its user: another user's sealed secret, copied into a factor row, signs nobody in", async () => {
    const a = await mfaUser();
    const b = await mfaUser();
    const db = gw.database.db;
    const [sealedA] = await db.select().from(mfaFactors).where(eq(mfaFactors.userId, a.user.id));
    await db
      .update(mfaFactors)
      .set({ secretCiphertext: sealedA!.secretCiphertext, encryptionKeyId: sealedA!.encryptionKeyId })
      .where(eq(mfaFactors.userId, b.user.id));
    const { mfaToken } = await challenge(gw, b.email, b.password);
    const result = await gw.gql(VerifyMfaDocument, { mfaToken, code: totpNow(gw, a.secret) });
    expect(result.data?.verifyMfa ?? null).toBeNull();
    // The secret does not open under B's id: an unexpected failure, not a wrong code.
    expect(codeOf(result)).toBe('INTERNAL_SERVER_ERROR');
  });

  it('reencrypt re-seals TOTP secrets under the first key, and the factor keeps working', async () => {
    const oldKey = generateEncryptionKeyEntry('old');
    const newKey = generateEncryptionKeyEntry('new');
    const before = await startGateway({ encryptionKeys: oldKey });
    try {
      const user = await mfaUser(before);
      const row = () => before.database.db.select().from(mfaFactors).where(eq(mfaFactors.userId, user.user.id));
      expect((await row())[0]!.encryptionKeyId).toBe('old');

      const box = new SecretBox(parseEncryptionKeys(`${newKey},${oldKey}`));
      const report = await reencrypt({ signingKeys: new PostgresSigningKeyStore(before.database.db), mfa: before.deps.mfa, keyHistory: new PostgresEncryptionKeyHistory(before.database.db), box, clock: before.clock, audit: before.deps.audit });
      expect(report.resealed).toBeGreaterThanOrEqual(1);
      expect(report.failed).toEqual([]);
      expect((await row())[0]!.encryptionKeyId).toBe('new');

      // A gateway holding only the new key still verifies the user's codes.
      const after = await startGateway({ database: before.database, encryptionKeys: newKey });
      try {
        after.clock.advance(60);
        const payload = await loginWithMfa(after, user.email, user.password, totpNow(after, user.secret));
        expect(payload.user.id).toBe(user.user.id);
      } finally {
        await after.close();
      }
    } finally {
      await before.close();
    }
  });
});

describe('forget-encryption-key', () => {
  it('gives up a key that sealed only TOTP secrets, no signing key, and audits it (warn)', async () => {
    const user = await mfaUser();
    const pending = await signUp(gw);
    expect((await gw.gql(EnrollMfaDocument, { password: pending.password }, { token: pending.accessToken })).errors).toBeUndefined();
    const ids = [user.user.id, pending.user.id];
    await gw.database.db.update(mfaFactors).set({ encryptionKeyId: 'totp-only' }).where(inArray(mfaFactors.userId, ids));
    const from = gw.logs.length;
    const deps = { ...gw.deps, signingKeys: new PostgresSigningKeyStore(gw.database.db) };
    const result = await forgetEncryptionKey(deps, 'totp-only', { apply: true, alg: gw.config.jwt.alg });
    expect(result).toMatchObject({ signingKeys: [], mfaUsers: [user.user.id], pendingUsers: [pending.user.id] });
    const lines = gw.logs.slice(from).map((line) => JSON.parse(line) as { msg: string });
    expect(lines.filter((line) => line.msg === 'encryption key forgotten')).toEqual([
      expect.objectContaining({ level: 40, keyId: 'totp-only', retiredSigningKeys: [], mfaReset: 1, pendingRemoved: 1 }),
    ]);
  });

  it('leaves an enrolment made again, under the key in use, between its listing and its removal', async () => {
    const user = await signUp(gw);
    const enrol = () => gw.gql(EnrollMfaDocument, { password: user.password }, { token: user.accessToken });
    expect((await enrol()).errors).toBeUndefined();
    await gw.database.db.update(mfaFactors).set({ encryptionKeyId: 'lost-meanwhile' }).where(eq(mfaFactors.userId, user.user.id));
    let again!: Awaited<ReturnType<typeof enrol>>;
    beforeNextCall(gw.deps.mfa, 'disable', async () => (again = await enrol()));
    const from = gw.logs.length;
    const deps = { ...gw.deps, signingKeys: new PostgresSigningKeyStore(gw.database.db) };
    const result = await forgetEncryptionKey(deps, 'lost-meanwhile', { apply: true, alg: gw.config.jwt.alg });
    expect(result).toMatchObject({ mfaUsers: [], pendingUsers: [] });
    const lines = gw.logs.slice(from).map((line) => JSON.parse(line) as { msg: string });
    expect(lines.filter((line) => line.msg === 'mfa reset')).toEqual([]);
    // The new enrolment is there, and confirms.
    expect(again.errors).toBeUndefined();
    const secret = again.data!.enrollMfa.secret;
    const confirmed = await gw.gql(ConfirmMfaDocument, { code: totpNow(gw, secret) }, { token: user.accessToken });
    expect(confirmed.errors).toBeUndefined();
  });
});

// Last in the file: it moves the gateway's clock a day ahead.
describe('prune', () => {
  it('deletes MFA challenges that expired over a day ago and keeps live ones and those expired since', async () => {
    const { email, password, accessToken } = await signUp(gw);
    await enableMfa(gw, accessToken, password);
    const old = await challenge(gw, email, password);
    gw.clock.advance(86_400);
    const recent = await challenge(gw, email, password);
    gw.clock.advance(301); // the old one expired a day and a second ago, the recent one a second ago
    const fresh = await challenge(gw, email, password);
    await prune(gw.deps);
    const left = await gw.database.db.select({ tokenHash: mfaChallenges.tokenHash }).from(mfaChallenges);
    const hashes = new Set(left.map((r) => r.tokenHash));
    expect(hashes.has(hashOpaqueToken(old.mfaToken))).toBe(false);
    expect(hashes.has(hashOpaqueToken(recent.mfaToken))).toBe(true);
    expect(hashes.has(hashOpaqueToken(fresh.mfaToken))).toBe(true);
  });
});

describe('the code', () => {
  it('refuses an accepted code again later in its own step', async () => {
    const user = await mfaUser();
    // 5 s into a step
    gw.clock.advance(((35_000 - (gw.clock.now().getTime() % 30_000)) % 30_000) / 1000);
    const code = totpNow(gw, user.secret);
    expect((await loginWithMfa(gw, user.email, user.password, code)).user.id).toBe(user.user.id);
    gw.clock.advance(20); // 25 s into the same step: the same code still matches it
    const { mfaToken } = await challenge(gw, user.email, user.password);
    expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken, code }))).toBe('INVALID_MFA_CODE');
  });

  it('takes a code with spaces around it (confirm and verify)', async () => {
    const user = await signUp(gw);
    const auth = { token: user.accessToken };
    const { secret } = (await gw.gql(EnrollMfaDocument, { password: user.password }, auth)).data!.enrollMfa;
    expect((await gw.gql(ConfirmMfaDocument, { code: ` ${totpNow(gw, secret)} ` }, auth)).errors).toBeUndefined();
    gw.clock.advance(30);
    expect((await loginWithMfa(gw, user.email, user.password, ` ${totpNow(gw, secret)}\n`)).user.id).toBe(user.user.id);
  });

  it('takes a code as apps show it, with a space inside (`123 456`), and no other character inside', async () => {
    const user = await mfaUser();
    const spaced = (code: string) => `${code.slice(0, 3)} ${code.slice(3)}`;
    expect((await loginWithMfa(gw, user.email, user.password, spaced(totpNow(gw, user.secret)))).user.id).toBe(user.user.id);
    gw.clock.advance(30);
    const { mfaToken } = await challenge(gw, user.email, user.password);
    const code = totpNow(gw, user.secret);
    expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken, code: `${code.slice(0, 3)}-${code.slice(3)}` }))).toBe('INVALID_MFA_CODE');
    expect((await gw.gql(VerifyMfaDocument, { mfaToken, code: `${code.slice(0, 3)}\u00a0${code.slice(3)}` })).errors).toBeUndefined();
  });

  it('disableMfa refuses a spent recovery code and a used TOTP code', async () => {
    const user = await mfaUser();
    const auth = { token: (await loginWithMfa(gw, user.email, user.password, user.recoveryCodes[0]!)).accessToken };
    expect(codeOf(await gw.gql(DisableMfaDocument, { code: user.recoveryCodes[0]! }, auth))).toBe('INVALID_MFA_CODE');
    const code = totpNow(gw, user.secret);
    await loginWithMfa(gw, user.email, user.password, code);
    expect(codeOf(await gw.gql(DisableMfaDocument, { code }, auth))).toBe('INVALID_MFA_CODE');
    expect((await gw.gql(MeDocument, {}, auth)).data!.me!.mfaEnabled).toBe(true);
  });

  it('answers every signed-in MFA mutation UNAUTHENTICATED without a session', async () => {
    expect(codeOf(await gw.gql(EnrollMfaDocument, { password: 'x' }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await gw.gql(ConfirmMfaDocument, { code: '123456' }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await gw.gql(DisableMfaDocument, { code: '123456' }))).toBe('UNAUTHENTICATED');
  });

});

describe('recovery codes', () => {
  it('draws recovery codes from the whole 32-symbol alphabet', async () => {
    const user = await signUp(gw);
    const { recoveryCodes } = await enableMfa(gw, user.accessToken, user.password);
    // 160 draws from 32 symbols: fewer than 24 distinct has a probability far below 1e-9.
    expect(new Set(recoveryCodes.join('').replaceAll('-', '')).size).toBeGreaterThanOrEqual(24);
  });

  it('keeps no recovery codes once MFA is off, and the old set fails after enabling again', async () => {
    const user = await mfaUser();
    const auth = { token: (await loginWithMfa(gw, user.email, user.password, totpNow(gw, user.secret))).accessToken };
    gw.clock.advance(30);
    expect((await gw.gql(DisableMfaDocument, { code: totpNow(gw, user.secret) }, auth)).data?.disableMfa).toBe(true);
    expect(await gw.database.db.select().from(recoveryCodes).where(eq(recoveryCodes.userId, user.user.id))).toEqual([]);
    gw.clock.advance(30);
    await enableMfa(gw, auth.token, user.password);
    const { mfaToken } = await challenge(gw, user.email, user.password);
    expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken, code: user.recoveryCodes[0]! }))).toBe('INVALID_MFA_CODE');
  });

});

describe('enrolment', () => {
  it('counts wrong confirmMfa codes against MFA_LIMIT_USER', async () => {
    const limited = await startGateway({ env: { MFA_LIMIT_USER: '3/900' } });
    try {
      const user = await signUp(limited);
      const auth = { token: user.accessToken };
      const { secret } = (await limited.gql(EnrollMfaDocument, { password: user.password }, auth)).data!.enrollMfa;
      for (let i = 0; i < 3; i++) {
        expect(codeOf(await limited.gql(ConfirmMfaDocument, { code: wrongCode(totpNow(limited, secret)) }, auth))).toBe('INVALID_MFA_CODE');
      }
      expect(codeOf(await limited.gql(ConfirmMfaDocument, { code: totpNow(limited, secret) }, auth))).toBe('RATE_LIMITED');
    } finally {
      await limited.close();
    }
  });

  it('still confirms a pending enrolment shortly before its 15 minutes are up', async () => {
    const user = await signUp(gw);
    const { secret } = (await gw.gql(EnrollMfaDocument, { password: user.password }, { token: user.accessToken })).data!.enrollMfa;
    gw.clock.advance(890);
    const auth = { token: (await logIn(gw, user.email, user.password)).accessToken };
    expect((await gw.gql(ConfirmMfaDocument, { code: totpNow(gw, secret) }, auth)).data?.confirmMfa).toHaveLength(10);
  });

  it('a right code whose enrolment was voided (all sessions ended) while checked is no pending enrolment', async () => {
    const user = await signUp(gw);
    const keep = await logIn(gw, user.email, user.password);
    const auth = { token: keep.accessToken };
    const { secret } = (await gw.gql(EnrollMfaDocument, { password: user.password }, auth)).data!.enrollMfa;
    beforeNextCall(gw.deps.mfa, 'confirm', async () => {
      await gw.deps.sessions.revokeAllOfUser(user.user.id, 'logout_all', gw.clock.now(), sessionIdOf(keep.accessToken));
    });
    expect(codeOf(await gw.gql(ConfirmMfaDocument, { code: totpNow(gw, secret) }, auth))).toBe('BAD_USER_INPUT');
  });

  it('savePending never touches a confirmed factor', async () => {
    const user = await mfaUser();
    const before = await gw.deps.mfa.getFactor(user.user.id);
    const other = sealTotpSecret(gw.deps.box, user.user.id, 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP');
    expect(await gw.deps.mfa.savePending(user.user.id, other, gw.clock.now(), before!.sessionEpoch)).toBe(false);
    expect(await gw.deps.mfa.getFactor(user.user.id)).toEqual(before);
  });

  it('updateSealed leaves a secret replaced meanwhile alone', async () => {
    const user = await mfaUser();
    const before = (await gw.deps.mfa.getFactor(user.user.id))!;
    const stale = sealTotpSecret(gw.deps.box, user.user.id, 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP');
    await gw.deps.mfa.updateSealed(user.user.id, stale, sealTotpSecret(gw.deps.box, user.user.id, 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ'));
    expect((await gw.deps.mfa.getFactor(user.user.id))!.sealed).toEqual(before.sealed);
  });

  it('counts a live pending enrolment among the secrets in use, and not one older than 15 minutes', async () => {
    const user = await signUp(gw);
    await gw.gql(EnrollMfaDocument, { password: user.password }, { token: user.accessToken });
    const since = new Date(gw.clock.now().getTime() - 900_000);
    expect((await gw.deps.mfa.listSealed(since)).map((r) => r.userId)).toContain(user.user.id);
    const later = new Date(since.getTime() + 901_000);
    expect((await gw.deps.mfa.listSealed(later)).map((r) => r.userId)).not.toContain(user.user.id);
  });

  it('requires the key of a live pending enrolment at start-up, and not that of one older than 15 minutes', async () => {
    const user = await signUp(gw);
    await gw.gql(EnrollMfaDocument, { password: user.password }, { token: user.accessToken });
    await gw.database.db.update(mfaFactors).set({ encryptionKeyId: 'pending-only' }).where(eq(mfaFactors.userId, user.user.id));
    const stores = { signingKeys: new PostgresSigningKeyStore(gw.database.db), mfa: gw.deps.mfa, box: gw.deps.box };
    expect(await findMissingEncryptionKeys({ ...stores, clock: gw.clock })).toContain('pending-only');
    const later = new Date(gw.clock.now().getTime() + 901_000);
    expect(await findMissingEncryptionKeys({ ...stores, clock: { now: () => later } })).not.toContain('pending-only');
    await gw.database.db.delete(mfaFactors).where(eq(mfaFactors.userId, user.user.id));
  });

});

describe('while a code is checked', () => {
  it('a right code whose challenge was spent while it was checked is INVALID_TOKEN, and stays unspent', async () => {
    const user = await mfaUser();
    const { mfaToken } = await challenge(gw, user.email, user.password);
    beforeNextCall(gw.deps.mfa, 'useRecoveryCode', async () => {
      expect((await gw.gql(VerifyMfaDocument, { mfaToken, code: user.recoveryCodes[1]! })).errors).toBeUndefined();
    });
    expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken, code: user.recoveryCodes[0]! }))).toBe('INVALID_TOKEN');
    expect((await loginWithMfa(gw, user.email, user.password, user.recoveryCodes[0]!)).user.id).toBe(user.user.id);
  });

  it('a right code whose challenge expired while it was checked is INVALID_TOKEN, and stays unspent', async () => {
    const user = await mfaUser();
    const { mfaToken, expiresAt } = await challenge(gw, user.email, user.password);
    // Reserved while live; by the time the code is spent with it (after the user is read), it has expired.
    beforeNextCall(gw.deps.users, 'findById', async () => {
      gw.clock.advance((new Date(expiresAt).getTime() - gw.clock.now().getTime()) / 1000 + 1);
    });
    expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken, code: user.recoveryCodes[0]! }))).toBe('INVALID_TOKEN');
    expect((await loginWithMfa(gw, user.email, user.password, user.recoveryCodes[0]!)).user.id).toBe(user.user.id);
  });

  it('answers INVALID_TOKEN, not MFA_NOT_ENABLED, when MFA goes off while the code is checked', async () => {
    const user = await mfaUser();
    const { mfaToken } = await challenge(gw, user.email, user.password);
    beforeNextCall(gw.deps.mfa, 'getFactor', async () => {
      await gw.deps.mfa.disable(user.user.id, gw.clock.now());
    });
    expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken, code: totpNow(gw, user.secret) }))).toBe('INVALID_TOKEN');
  });

  it('answers disableMfa MFA_NOT_ENABLED, neither counted nor audited as a wrong code, when MFA goes off while its right code is checked', async () => {
    const user = await mfaUser();
    // Off from this very session (a second click), which ends the others but not this one.
    const by = { sessionId: sessionIdOf(user.accessToken) };
    beforeNextCall(gw.deps.mfa, 'disable', () => gw.deps.mfa.disable(user.user.id, gw.clock.now(), { by }));
    const from = gw.logs.length;
    expect(codeOf(await gw.gql(DisableMfaDocument, { code: totpNow(gw, user.secret) }, { token: user.accessToken }))).toBe('MFA_NOT_ENABLED');
    expect(gw.logs.slice(from).filter((line) => line.includes('"mfa code rejected"'))).toEqual([]);
  });

  it('answers disableMfa UNAUTHENTICATED, not a wrong code, when the owner turns MFA off from another session (ending this one) while its code is checked', async () => {
    const owner = await mfaUser();
    const other = await loginWithMfa(gw, owner.email, owner.password, owner.recoveryCodes[0]!);
    beforeNextCall(gw.deps.mfa, 'disable', async () => {
      expect((await gw.gql(DisableMfaDocument, { code: owner.recoveryCodes[1]! }, { token: owner.accessToken })).data?.disableMfa).toBe(true);
    });
    const from = gw.logs.length;
    expect(codeOf(await gw.gql(DisableMfaDocument, { code: owner.recoveryCodes[2]! }, { token: other.accessToken }))).toBe('UNAUTHENTICATED');
    expect(gw.logs.slice(from).filter((line) => line.includes('"mfa code rejected"'))).toEqual([]);
  });

});

// Row locks and a second connection: PostgreSQL only (PGlite has one connection).
describe.runIf(process.env.DATABASE_URL)('an MFA change and the sessions it ends, as one (PostgreSQL)', () => {
  const mfaOn = async (userId: string) =>
    (await gw.database.db.execute(sql`select mfa_enabled from users where id = ${userId}::uuid`) as unknown as Array<{ mfa_enabled: boolean }>)[0]!.mfa_enabled;
  /** The user's other session held locked, so that ending it waits; that wait is then cancelled. */
  const failingWhileEnding = async <T>(otherAccessToken: string, work: () => Promise<T>) => {
    const release = await holdingRowLock(gw, sql`select 1 from sessions where id = ${sessionIdOf(otherAccessToken)}::uuid for update`);
    const answered = work();
    await cancelWaitingStatement(gw);
    const answer = await answered;
    await release();
    return answer;
  };

  it('confirmMfa that fails while ending the other sessions leaves MFA off and them live; its retry does both', async () => {
    const user = await signUp(gw);
    const other = await logIn(gw, user.email, user.password);
    const { secret } = (await gw.gql(EnrollMfaDocument, { password: user.password }, { token: user.accessToken })).data!.enrollMfa;
    const code = totpNow(gw, secret);
    const failed = await failingWhileEnding(other.accessToken!, () => gw.gql(ConfirmMfaDocument, { code }, { token: user.accessToken }));
    expect(codeOf(failed)).toBe('SERVICE_UNAVAILABLE');
    expect(await mfaOn(user.user.id)).toBe(false);
    expect((await gw.gql(MeDocument, {}, { token: other.accessToken })).errors).toBeUndefined();
    // Still pending, its code unspent: the retry confirms, and the other session ends with it.
    const retried = await gw.gql(ConfirmMfaDocument, { code }, { token: user.accessToken });
    expect(retried.data?.confirmMfa).toHaveLength(10);
    expect(await mfaOn(user.user.id)).toBe(true);
    expect(codeOf(await gw.gql(MeDocument, {}, { token: other.accessToken }))).toBe('UNAUTHENTICATED');
  });

  it('disableMfa that fails while ending the other sessions leaves MFA on and its code unspent; its retry does both', async () => {
    const user = await mfaUser();
    const other = await loginWithMfa(gw, user.email, user.password, user.recoveryCodes[0]!);
    const code = user.recoveryCodes[1]!;
    const failed = await failingWhileEnding(other.accessToken!, () => gw.gql(DisableMfaDocument, { code }, { token: user.accessToken }));
    expect(codeOf(failed)).toBe('SERVICE_UNAVAILABLE');
    expect(await mfaOn(user.user.id)).toBe(true);
    expect((await gw.gql(MeDocument, {}, { token: other.accessToken })).errors).toBeUndefined();
    expect((await gw.gql(DisableMfaDocument, { code }, { token: user.accessToken })).data?.disableMfa).toBe(true);
    expect(await mfaOn(user.user.id)).toBe(false);
    expect(codeOf(await gw.gql(MeDocument, {}, { token: other.accessToken }))).toBe('UNAUTHENTICATED');
  });

  it("an operator's reset-mfa that fails while ending the sessions leaves MFA on and them live; run again, it does both", async () => {
    const user = await mfaUser();
    const failed = await failingWhileEnding(user.accessToken, () => resetMfa(gw.deps, user.email).then(() => 'reset', (error: unknown) => error));
    expect(failed).toBeInstanceOf(Error);
    expect(await mfaOn(user.user.id)).toBe(true);
    expect((await gw.gql(MeDocument, {}, { token: user.accessToken })).errors).toBeUndefined();
    expect((await resetMfa(gw.deps, user.email)).removed?.ended).toEqual([sessionIdOf(user.accessToken)]);
    expect(await mfaOn(user.user.id)).toBe(false);
    expect(codeOf(await gw.gql(MeDocument, {}, { token: user.accessToken }))).toBe('UNAUTHENTICATED');
  });
});
