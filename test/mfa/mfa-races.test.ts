// Rule: one-time MFA things stay one-time under concurrency and across steps: the confirming
// code cannot log in, a challenge allows MFA_ATTEMPTS_PER_CHALLENGE attempts even in a burst, a
// recovery code works once in a burst, a code is spent only with the challenge it starts a
// session for, a user disabled between the steps gets no session, and an operation holds at
// most one MFA mutation.
import { and, eq, isNotNull, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disableUser } from '../../src/domain/admin';
import { removeMfa } from '../../src/domain/admin/reset-mfa';
import { mfaChallenges, recoveryCodes, users } from '../../src/storage/postgres/schema';
import { hashOpaqueToken } from '../../src/domain/tokens';
import { hashRecoveryCode } from '../../src/domain/mfa/recovery-codes';
import {
  ConfirmMfaDocument,
  DisableMfaDocument,
  EnrollMfaDocument,
  MeDocument,
  RegenerateRecoveryCodesDocument,
  RevokeSessionDocument,
  VerifyMfaDocument,
} from '../gql/graphql';
import { codeOf, signUp } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { beforeNextCall } from '../helpers/hooks';
import { challenge, enableMfa, loginWithMfa, totpNow, wrongCode } from '../helpers/mfa';
import { logIn, sessionIdOf, untilWaiting } from '../helpers/sessions';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway({ env: { MFA_LIMIT_USER: '1000/900' } });
});
afterAll(() => gw?.close());

async function mfaUser() {
  const user = await signUp(gw);
  return { ...user, ...(await enableMfa(gw, user.accessToken, user.password)) };
}
type MfaUser = Awaited<ReturnType<typeof mfaUser>>;

describe('MFA races and boundaries', () => {
  it('refuses the code that confirmed MFA when it is presented again within the same step', async () => {
    const user = await mfaUser();
    const { mfaToken } = await challenge(gw, user.email, user.password);
    const result = await gw.gql(VerifyMfaDocument, { mfaToken, code: totpNow(gw, user.secret) });
    expect(codeOf(result)).toBe('INVALID_MFA_CODE');
  });

  it('allows MFA_ATTEMPTS_PER_CHALLENGE attempts on one challenge even in a concurrent burst', async () => {
    const user = await mfaUser();
    const { mfaToken } = await challenge(gw, user.email, user.password);
    const wrong = wrongCode(totpNow(gw, user.secret));
    const results = await Promise.all(Array.from({ length: 12 }, () => gw.gql(VerifyMfaDocument, { mfaToken, code: wrong })));
    const codes = results.map(codeOf);
    expect(codes.filter((c) => c === 'INVALID_MFA_CODE')).toHaveLength(5);
    expect(codes.filter((c) => c === 'INVALID_TOKEN')).toHaveLength(7);
  });

  it('accepts one recovery code once when it is sent on five challenges at the same time', async () => {
    const user = await mfaUser();
    const challenges = await Promise.all(Array.from({ length: 5 }, () => challenge(gw, user.email, user.password)));
    const code = user.recoveryCodes[0]!;
    const results = await Promise.all(challenges.map(({ mfaToken }) => gw.gql(VerifyMfaDocument, { mfaToken, code })));
    expect(results.filter((r) => r.data?.verifyMfa)).toHaveLength(1);
    expect(results.filter((r) => codeOf(r) === 'INVALID_MFA_CODE')).toHaveLength(4);
  });

  it('spends only the code that started the session when four right codes arrive on one challenge at once', async () => {
    const user = await mfaUser();
    const { mfaToken } = await challenge(gw, user.email, user.password);
    const sent = user.recoveryCodes.slice(0, 4);
    const results = await Promise.all(sent.map((code) => gw.gql(VerifyMfaDocument, { mfaToken, code })));
    expect(results.filter((r) => r.data?.verifyMfa)).toHaveLength(1);
    expect(results.map(codeOf).filter((c) => c === 'INVALID_TOKEN')).toHaveLength(3);
    const used = await gw.database.db
      .select()
      .from(recoveryCodes)
      .where(and(eq(recoveryCodes.userId, user.user.id), isNotNull(recoveryCodes.usedAt)));
    expect(used).toHaveLength(1);
    // The three that lost the challenge still sign in.
    const losers = sent.filter((_, i) => !results[i]!.data?.verifyMfa);
    for (const code of losers) expect((await loginWithMfa(gw, user.email, user.password, code)).user.id).toBe(user.user.id);
  });

  it('confirms no pending enrolment once all sessions ended after confirmMfa read it', async () => {
    const user = await signUp(gw);
    expect((await gw.gql(EnrollMfaDocument, { password: user.password }, { token: user.accessToken })).errors).toBeUndefined();
    const factor = await gw.deps.mfa.getFactor(user.user.id);
    await gw.deps.sessions.revokeAllOfUser(user.user.id, 'logout_all', gw.clock.now());
    const step = Math.floor(gw.clock.now().getTime() / 30_000);
    expect(await gw.deps.mfa.confirm(user.user.id, factor!.sealed, step, ['a-code-hash'], gw.clock.now(), sessionIdOf(user.accessToken))).toBe('unconfirmed');
    const [row] = await gw.database.db.select({ mfaEnabled: users.mfaEnabled }).from(users).where(eq(users.id, user.user.id));
    expect(row!.mfaEnabled).toBe(false);
  });

  it('answers the same right confirmation sent five times at once with one success and MFA_ALREADY_ENABLED, never a wrong code', async () => {
    const user = await signUp(gw);
    const auth = { token: user.accessToken };
    const { secret } = (await gw.gql(EnrollMfaDocument, { password: user.password }, auth)).data!.enrollMfa;
    const code = totpNow(gw, secret);
    const results = await Promise.all(Array.from({ length: 5 }, () => gw.gql(ConfirmMfaDocument, { code }, auth)));
    expect(results.filter((r) => r.data?.confirmMfa)).toHaveLength(1);
    expect(results.map(codeOf).filter(Boolean).sort()).toEqual(Array(4).fill('MFA_ALREADY_ENABLED'));
  });

  it('issues one new set of recovery codes for one TOTP code sent five times at once: the others are INVALID_MFA_CODE', async () => {
    const user = await mfaUser();
    gw.clock.advance(30); // the confirming code's step is spent
    const auth = { token: user.accessToken };
    const code = totpNow(gw, user.secret);
    const results = await Promise.all(Array.from({ length: 5 }, () => gw.gql(RegenerateRecoveryCodesDocument, { code }, auth)));
    const issued = results.filter((r) => r.data?.regenerateRecoveryCodes).map((r) => r.data!.regenerateRecoveryCodes);
    expect(issued).toHaveLength(1);
    expect(results.map(codeOf).filter(Boolean)).toEqual(Array(4).fill('INVALID_MFA_CODE'));
    // The set issued is the one kept.
    expect((await loginWithMfa(gw, user.email, user.password, issued[0]![0]!)).user.id).toBe(user.user.id);
  });

  it('turns MFA off once for one recovery code sent from three sessions at once', async () => {
    const user = await mfaUser();
    const others = await Promise.all([1, 2].map((i) => loginWithMfa(gw, user.email, user.password, user.recoveryCodes[i]!)));
    const code = user.recoveryCodes[3]!;
    const results = await Promise.all(
      [user, ...others].map((session) => gw.gql(DisableMfaDocument, { code }, { token: session.accessToken })),
    );
    expect(results.filter((r) => r.data?.disableMfa === true)).toHaveLength(1);
    // The others lost to it: the code was spent, MFA was off, or their session ended by it.
    for (const lost of results.filter((r) => !r.data?.disableMfa)) expect(['INVALID_MFA_CODE', 'MFA_NOT_ENABLED', 'UNAUTHENTICATED']).toContain(codeOf(lost));
  });

  it('spends in the change only a code still unspent: a used recovery code or an accepted step refuses it, changing nothing', async () => {
    const user = await mfaUser();
    const sessionId = sessionIdOf(user.accessToken);
    const now = gw.clock.now();
    await loginWithMfa(gw, user.email, user.password, user.recoveryCodes[0]!);
    const used = { kind: 'rcode', codeHash: hashRecoveryCode(user.user.id, user.recoveryCodes[0]!), now } as const;
    expect(await gw.deps.mfa.disable(user.user.id, now, { by: { sessionId, spending: used } })).toBe('code-refused');
    const confirmedStep = Math.floor(now.getTime() / 30_000); // enableMfa's code was of this step, or the one before
    const accepted = { kind: 'otp', step: confirmedStep - 1 } as const;
    expect(await gw.deps.mfa.disable(user.user.id, now, { by: { sessionId, spending: accepted } })).toBe('code-refused');
    expect(await gw.deps.mfa.replaceRecoveryCodes(user.user.id, ['refused'], now, sessionId, accepted)).toBe('code-refused');
    expect((await gw.gql(MeDocument, {}, { token: user.accessToken })).data?.me.mfaEnabled).toBe(true);
    expect((await loginWithMfa(gw, user.email, user.password, user.recoveryCodes[1]!)).user.id).toBe(user.user.id);
  });

  it('answers a right code whose enrolment was replaced while it was checked as no pending enrolment, not as a wrong code', async () => {
    const user = await signUp(gw);
    const auth = { token: user.accessToken };
    const { secret } = (await gw.gql(EnrollMfaDocument, { password: user.password }, auth)).data!.enrollMfa;
    // A second enrollMfa lands between the code's check and the confirming write.
    beforeNextCall(gw.deps.mfa, 'confirm', async () => {
      expect((await gw.gql(EnrollMfaDocument, { password: user.password }, auth)).errors).toBeUndefined();
    });
    const result = await gw.gql(ConfirmMfaDocument, { code: totpNow(gw, secret) }, auth);
    expect(codeOf(result)).toBe('BAD_USER_INPUT');
    expect(result.errors![0]!.message).toContain('No pending MFA enrolment');
  });

  it('keeps exactly one set of recovery codes when two replacements run at once, and writes none once MFA is off', async () => {
    const user = await mfaUser();
    const codesOf = async () =>
      (await gw.database.db.select({ codeHash: recoveryCodes.codeHash }).from(recoveryCodes).where(eq(recoveryCodes.userId, user.user.id)))
        .map((r) => r.codeHash)
        .sort();
    for (let round = 0; round < 20; round++) {
      const sets = [0, 1].map((which) => Array.from({ length: 10 }, (_, i) => `round-${round}-set-${which}-${i}`));
      const replaced = await Promise.all(sets.map((set) => gw.deps.mfa.replaceRecoveryCodes(user.user.id, set, gw.clock.now(), sessionIdOf(user.accessToken))));
      expect(replaced).toEqual(['replaced', 'replaced']);
      expect(sets.map((set) => [...set].sort())).toContainEqual(await codesOf());
    }
    await gw.deps.mfa.disable(user.user.id, gw.clock.now());
    expect(await gw.deps.mfa.replaceRecoveryCodes(user.user.id, ['after-disable'], gw.clock.now(), sessionIdOf(user.accessToken))).toBe('mfa-off');
    expect(await codesOf()).toEqual([]);
  });

  it('answers verifyMfa and disableMfa racing for one user without an internal error (no deadlock)', async () => {
    for (let round = 0; round < 30; round++) {
      const user = await mfaUser();
      gw.clock.advance(30); // the confirming code's step is spent
      const { mfaToken } = await challenge(gw, user.email, user.password);
      const [verified, disabled] = await Promise.all([
        gw.gql(VerifyMfaDocument, { mfaToken, code: totpNow(gw, user.secret) }),
        gw.gql(DisableMfaDocument, { code: user.recoveryCodes[0]! }, { token: user.accessToken }),
      ]);
      expect(codeOf(verified) ?? 'OK', `round ${round}`).toMatch(/^(OK|INVALID_TOKEN)$/);
      expect(codeOf(disabled) ?? 'OK', `round ${round}`).toBe('OK');
    }
  }, 60_000);

  it('gives no session to a user disabled between login and verifyMfa, and refuses their MFA changes', async () => {
    const user = await mfaUser();
    gw.clock.advance(30);
    const { mfaToken } = await challenge(gw, user.email, user.password);
    await disableUser(gw.deps, user.email);
    expect(codeOf(await gw.gql(VerifyMfaDocument, { mfaToken, code: totpNow(gw, user.secret) }))).toBe('INVALID_TOKEN');
    const disable = await gw.gql(DisableMfaDocument, { code: user.recoveryCodes[1]! }, { token: user.accessToken });
    expect(codeOf(disable)).toBe('UNAUTHENTICATED');
  });

  it('changes nothing for a session that has ended: recovery codes stay, MFA stays on (or off)', async () => {
    const owner = await mfaUser();
    const other = await loginWithMfa(gw, owner.email, owner.password, owner.recoveryCodes[0]!);
    const ended = sessionIdOf(other.accessToken);
    expect((await gw.gql(RevokeSessionDocument, { id: ended }, { token: owner.accessToken })).data?.revokeSession).toBe(true);
    const codesBefore = await gw.database.db.select().from(recoveryCodes).where(eq(recoveryCodes.userId, owner.user.id));
    expect(await gw.deps.mfa.replaceRecoveryCodes(owner.user.id, ['from-an-ended-session'], gw.clock.now(), ended)).toBe('session-ended');
    expect(await gw.deps.mfa.disable(owner.user.id, gw.clock.now(), { by: { sessionId: ended } })).toBeNull();
    // Nor does a pending enrolment confirmed from an ended session turn MFA on.
    const pending = await signUp(gw);
    const second = await logIn(gw, pending.email, pending.password);
    expect((await gw.gql(EnrollMfaDocument, { password: pending.password }, { token: second.accessToken })).errors).toBeUndefined();
    const factor = (await gw.deps.mfa.getFactor(pending.user.id))!;
    await gw.gql(RevokeSessionDocument, { id: sessionIdOf(second.accessToken) }, { token: pending.accessToken });
    const step = Math.floor(gw.clock.now().getTime() / 30_000);
    expect(await gw.deps.mfa.confirm(pending.user.id, factor.sealed, step, ['a-code-hash'], gw.clock.now(), sessionIdOf(second.accessToken))).toBe('session-ended');
    expect((await gw.database.db.select().from(users).where(eq(users.id, pending.user.id)))[0]!.mfaEnabled).toBe(false);
    expect(await gw.database.db.select().from(recoveryCodes).where(eq(recoveryCodes.userId, owner.user.id))).toEqual(codesBefore);
    expect((await gw.database.db.select().from(users).where(eq(users.id, owner.user.id)))[0]!.mfaEnabled).toBe(true);
  });

  it("an admin's reset that read a pending enrolment, confirmed before the reset removes it, ends the sessions as for MFA on", async () => {
    const user = await signUp(gw);
    const { secret } = (await gw.gql(EnrollMfaDocument, { password: user.password }, { token: user.accessToken })).data!.enrollMfa;
    const read = await gw.deps.mfa.getFactor(user.user.id); // what resetMfa reads first: pending
    expect(read?.confirmed).toBe(false);
    expect((await gw.gql(ConfirmMfaDocument, { code: totpNow(gw, secret) }, { token: user.accessToken })).errors).toBeUndefined();
    const { wasOn, ended } = await removeMfa(gw.deps, user.user.id, 'admin');
    expect(wasOn).toBe(true);
    expect(ended).toEqual([sessionIdOf(user.accessToken)]);
    expect(codeOf(await gw.gql(MeDocument, {}, { token: user.accessToken }))).toBe('UNAUTHENTICATED');
  });

  it('a reset of a user whose flag says MFA is on, though no factor is left, ends the sessions too', async () => {
    const user = await signUp(gw);
    await gw.database.db.update(users).set({ mfaEnabled: true }).where(eq(users.id, user.user.id));
    const { removed, wasOn, ended } = await removeMfa(gw.deps, user.user.id, 'admin');
    expect({ removed, wasOn, ended }).toEqual({ removed: true, wasOn: true, ended: [sessionIdOf(user.accessToken)] });
  });

  it('forgetting a key removes only a factor sealed under it: one enrolled again meanwhile, under another key, stays', async () => {
    const user = await mfaUser();
    const factor = (await gw.deps.mfa.getFactor(user.user.id))!;
    expect(await removeMfa(gw.deps, user.user.id, 'encryption key forgotten', `not-${factor.sealed.keyId}`)).toEqual({ removed: false, wasOn: false, ended: [] });
    expect((await gw.deps.mfa.getFactor(user.user.id))?.confirmed).toBe(true);
    expect((await gw.gql(MeDocument, {}, { token: user.accessToken })).data?.me.mfaEnabled).toBe(true);
    expect(await removeMfa(gw.deps, user.user.id, 'encryption key forgotten', factor.sealed.keyId)).toMatchObject({ removed: true, wasOn: true });
    expect(await gw.deps.mfa.getFactor(user.user.id)).toBeNull();
  });

  // Instances prune hourly; a user's disable deletes the same challenges in another order (by
  // user, not by expiry): held rows are skipped, never waited for, so the two never deadlock.
  it.runIf(process.env.DATABASE_URL)('prunes around challenges another transaction holds, without waiting (PostgreSQL)', async () => {
    const user = await mfaUser();
    const [held, free] = [await challenge(gw, user.email, user.password), await challenge(gw, user.email, user.password)];
    const rows = await gw.database.db.select({ id: mfaChallenges.id, tokenHash: mfaChallenges.tokenHash }).from(mfaChallenges).where(eq(mfaChallenges.userId, user.user.id));
    expect(rows).toHaveLength(2);
    const heldId = rows.find((row) => row.tokenHash === hashOpaqueToken(held.mfaToken))!.id;
    expect(free.mfaToken).not.toBe(held.mfaToken);
    const later = new Date(gw.clock.now().getTime() + 86_400_000 * 3);
    await gw.database.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT 1 FROM mfa_challenges WHERE id = ${heldId} FOR UPDATE`);
      expect(await gw.deps.mfa.pruneChallenges(later)).toBeGreaterThanOrEqual(1); // would wait forever otherwise
    });
    const left = await gw.database.db.select({ id: mfaChallenges.id }).from(mfaChallenges).where(eq(mfaChallenges.userId, user.user.id));
    expect(left).toEqual([{ id: heldId }]);
    expect(await gw.deps.mfa.pruneChallenges(later)).toBeGreaterThanOrEqual(1);
  });

  // The code check takes a round trip or two while the owner may act. Held at the factor's row
  // (where a TOTP step is spent), the change waits while the owner revokes its session.
  describe.runIf(process.env.DATABASE_URL)('sent from a session the owner revokes while its code is checked (PostgreSQL)', () => {
    /**
     * Sends `change` while the factor's row is held, waits until it waits for that row, has the
     * owner revoke the stolen session meanwhile, then lets the change go on; its error code.
     */
    async function revokedWhileChecked(owner: { user: { id: string }; accessToken: string }, stolen: string, change: () => Promise<string | undefined>) {
      let sent!: Promise<string | undefined>;
      await gw.database.db.transaction(async (tx) => {
        await tx.execute(sql`SELECT 1 FROM mfa_factors WHERE user_id = ${owner.user.id} FOR UPDATE`);
        sent = change();
        await untilWaiting(tx, 1);
        const revoked = await gw.gql(RevokeSessionDocument, { id: sessionIdOf(stolen) }, { token: owner.accessToken });
        expect(revoked.data?.revokeSession).toBe(true);
      });
      return sent;
    }
    const mutations = {
      disableMfa: (code: string, token: string) => gw.gql(DisableMfaDocument, { code }, { token }).then(codeOf),
      regenerateRecoveryCodes: (code: string, token: string) => gw.gql(RegenerateRecoveryCodesDocument, { code }, { token }).then(codeOf),
    };
    const sentWith = {
      'a TOTP code': (owner: MfaUser) => totpNow(gw, owner.secret),
      'a recovery code': (owner: MfaUser) => owner.recoveryCodes[2]!,
    };
    it.each([
      ['disableMfa', 'a TOTP code'],
      ['disableMfa', 'a recovery code'],
      ['regenerateRecoveryCodes', 'a TOTP code'],
    ] as const)('%s sent with %s changes nothing and answers UNAUTHENTICATED; the owner keeps MFA, codes and session, the code stays unspent', async (name, kind) => {
      const owner = await mfaUser();
      const stolen = await loginWithMfa(gw, owner.email, owner.password, owner.recoveryCodes[0]!);
      gw.clock.advance(30); // the confirming code's step is spent
      const code = sentWith[kind](owner);
      const thief = await revokedWhileChecked(owner, stolen.accessToken, () => mutations[name](code, stolen.accessToken));
      expect(thief).toBe('UNAUTHENTICATED');
      const me = await gw.gql(MeDocument, {}, { token: owner.accessToken });
      expect(me.data?.me.mfaEnabled).toBe(true);
      // The code the refused change was sent with was not spent: the owner signs in with it.
      expect((await loginWithMfa(gw, owner.email, owner.password, code)).user.id).toBe(owner.user.id);
      // The set the owner holds still signs in: it was not replaced.
      expect((await loginWithMfa(gw, owner.email, owner.password, owner.recoveryCodes[1]!)).user.id).toBe(owner.user.id);
    });

    // The user's row held by a key-locking transaction, then updated: an insert's check of the
    // user (KEY SHARE) waits for it and then for whatever updated the row next. A replacement
    // that held its session while so waiting deadlocked with a change ending that session.
    it('a replacement of recovery codes and a password change that ends its session never deadlock', async () => {
      for (let round = 0; round < 10; round++) {
        const owner = await mfaUser();
        const other = await loginWithMfa(gw, owner.email, owner.password, owner.recoveryCodes[0]!);
        const epoch = (await gw.deps.users.findById(owner.user.id))!.sessionEpoch;
        let outcomes!: Promise<unknown[]>;
        await gw.database.db.transaction(async (tx) => {
          await tx.execute(sql`SELECT 1 FROM users WHERE id = ${owner.user.id} FOR UPDATE`);
          const change = gw.deps.sessions.changePassword({
            userId: owner.user.id,
            keepSessionId: sessionIdOf(owner.accessToken),
            checkedInEpoch: epoch,
            passwordHash: 'not-a-hash',
            now: gw.clock.now(),
          });
          await untilWaiting(tx, 1);
          const replace = gw.deps.mfa.replaceRecoveryCodes(owner.user.id, [`round-${round}`], gw.clock.now(), sessionIdOf(other.accessToken));
          await untilWaiting(tx, 2);
          await tx.execute(sql`UPDATE users SET roles = roles WHERE id = ${owner.user.id}`);
          outcomes = Promise.all([change, replace]);
        });
        const [changed, replaced] = await outcomes;
        expect(changed, `round ${round}`).toMatchObject({ ended: [sessionIdOf(other.accessToken)] });
        expect(['replaced', 'session-ended'], `round ${round}`).toContain(replaced);
      }
    }, 60_000);

    it("confirmMfa changes nothing and answers UNAUTHENTICATED: MFA stays off, the owner's session lives", async () => {
      const owner = await signUp(gw);
      const stolen = await logIn(gw, owner.email, owner.password);
      const enrolled = await gw.gql(EnrollMfaDocument, { password: owner.password }, { token: stolen.accessToken });
      const { secret } = enrolled.data!.enrollMfa;
      const confirm = () => gw.gql(ConfirmMfaDocument, { code: totpNow(gw, secret) }, { token: stolen.accessToken }).then(codeOf);
      expect(await revokedWhileChecked(owner, stolen.accessToken, confirm)).toBe('UNAUTHENTICATED');
      const me = await gw.gql(MeDocument, {}, { token: owner.accessToken });
      expect(me.data?.me.mfaEnabled).toBe(false);
      expect((await logIn(gw, owner.email, owner.password)).user.id).toBe(owner.user.id); // no MFA challenge
    });
  });

  it('refuses two MFA mutations in one operation before either runs', async () => {
    const user = await mfaUser();
    const response = await gw.post(
      { query: 'mutation { a: disableMfa(code: "000000") b: regenerateRecoveryCodes(code: "000000") }' },
      { token: user.accessToken },
    );
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: Array<{ extensions: { code: string } }> };
    expect(body.errors[0]!.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});
