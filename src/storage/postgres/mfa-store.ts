import { and, eq, gt, inArray, isNotNull, isNull, lt, or, sql } from 'drizzle-orm';
import type { Sealed } from '../../domain/crypto';
import type { ChallengeToSpend, CodeSpend, CodeToSpend, DisableOnly, MfaStore } from '../../domain/mfa';
import { transaction, type Db, type Tx } from './client';
import { endAllSessionsOf, isLiveSession, lockLiveSession } from './session-store';
import { mfaChallenges, mfaFactors, recoveryCodes, users } from './schema';
import { randomUUID } from 'node:crypto';

export class PostgresMfaStore implements MfaStore {
  constructor(private readonly db: Db) {}

  async getFactor(userId: string) {
    const [row] = await this.db.select().from(mfaFactors).where(eq(mfaFactors.userId, userId));
    if (!row) return null;
    return {
      sealed: { ciphertext: row.secretCiphertext, keyId: row.encryptionKeyId },
      confirmed: row.confirmedAt !== null,
      enrolledAt: row.createdAt,
      sessionEpoch: row.sessionEpoch,
    };
  }

  async savePending(userId: string, sealed: Sealed, now: Date, sessionEpoch: number) {
    const pending = { secretCiphertext: sealed.ciphertext, encryptionKeyId: sealed.keyId, createdAt: now, sessionEpoch };
    const rows = await this.db
      .insert(mfaFactors)
      .values({ userId, ...pending })
      .onConflictDoUpdate({
        target: mfaFactors.userId,
        set: { ...pending, lastStep: null },
        setWhere: isNull(mfaFactors.confirmedAt),
      })
      .returning({ userId: mfaFactors.userId });
    return rows.length === 1;
  }

  /**
   * The user is updated only in the factor's session epoch, after the factor (the order disable
   * locks them in too): an ending of all sessions, which raises the epoch, either waits for this
   * transaction, or has voided the factor before it and nothing changes. Then the asking session
   * is locked (as disable does).
   */
  async confirm(userId: string, sealed: Sealed, step: number, codeHashes: string[], now: Date, bySessionId: string) {
    let refused: 'unconfirmed' | 'session-ended' = 'unconfirmed';
    const confirmed = await transaction(this.db, null, async (tx) => {
      const [confirmed] = await tx
        .update(mfaFactors)
        .set({ confirmedAt: now, lastStep: step })
        .where(
          and(
            eq(mfaFactors.userId, userId),
            eq(mfaFactors.secretCiphertext, sealed.ciphertext),
            isNull(mfaFactors.confirmedAt),
            stepIsNew(step),
          ),
        )
        .returning({ sessionEpoch: mfaFactors.sessionEpoch });
      if (!confirmed) return tx.rollback();
      const enabled = await tx
        .update(users)
        .set({ mfaEnabled: true })
        .where(and(eq(users.id, userId), eq(users.sessionEpoch, confirmed.sessionEpoch)))
        .returning({ id: users.id });
      if (enabled.length !== 1) return tx.rollback();
      if (!(await lockLiveSession(tx, userId, bySessionId, now))) {
        refused = 'session-ended';
        return tx.rollback();
      }
      await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
      await tx.insert(recoveryCodes).values(codeHashes.map((codeHash) => ({ id: randomUUID(), userId, codeHash, createdAt: now })));
      return { ended: await endAllSessionsOf(tx, userId, 'mfa_changed', now, bySessionId) };
    });
    return confirmed ?? refused;
  }

  acceptStep(userId: string, step: number, withChallenge?: ChallengeToSpend) {
    return this.spendCode(withChallenge, (db) =>
      db
        .update(mfaFactors)
        .set({ lastStep: step })
        .where(and(eq(mfaFactors.userId, userId), isNotNull(mfaFactors.confirmedAt), stepIsNew(step)))
        .returning({ userId: mfaFactors.userId }),
    );
  }

  useRecoveryCode(userId: string, codeHash: string, now: Date, withChallenge?: ChallengeToSpend) {
    return this.spendCode(withChallenge, (db) =>
      db
        .update(recoveryCodes)
        .set({ usedAt: now })
        .where(and(eq(recoveryCodes.userId, userId), eq(recoveryCodes.codeHash, codeHash), isNull(recoveryCodes.usedAt)))
        .returning({ id: recoveryCodes.id }),
    );
  }

  /**
   * Runs `spend` (one conditional UPDATE … RETURNING of the code's row), with the challenge in one
   * transaction when there is one: the challenge is spent first, so a concurrent attempt on the
   * same challenge waits for its row lock and then finds it spent (its code untouched), or, when
   * this code is refused and everything is rolled back, finds it as it was.
   */
  private async spendCode(challenge: ChallengeToSpend | undefined, spend: (db: Db) => Promise<unknown[]>): Promise<CodeSpend> {
    if (!challenge) return (await spend(this.db)).length === 1 ? 'spent' : 'refused';
    return transaction(this.db, 'refused', async (tx) => {
      const spentChallenge = await tx
        .update(mfaChallenges)
        .set({ spentAt: challenge.now })
        .where(and(eq(mfaChallenges.id, challenge.id), isNull(mfaChallenges.spentAt), gt(mfaChallenges.expiresAt, challenge.now)))
        .returning({ id: mfaChallenges.id });
      if (spentChallenge.length !== 1) return 'challenge-gone';
      if ((await spend(tx)).length === 1) return 'spent';
      return tx.rollback();
    });
  }

  /**
   * Locks the confirmed factor first (the order of every transaction here): two replacements at
   * once then run one after the other, and the later one deletes the earlier one's codes too
   * (without the lock, its DELETE would not see rows committed after it started waiting, and both
   * sets would live). Nothing written (the code `spending` left unspent) when MFA was turned off
   * meanwhile, the code was used meanwhile, or the session ended.
   */
  async replaceRecoveryCodes(userId: string, codeHashes: string[], now: Date, bySessionId: string, spending?: CodeToSpend) {
    let refused: 'mfa-off' | 'session-ended' | 'code-refused' = 'mfa-off';
    const replaced = await transaction(this.db, null, async (tx) => {
      const [factor] = await tx
        .select({ lastStep: mfaFactors.lastStep })
        .from(mfaFactors)
        .where(and(eq(mfaFactors.userId, userId), isNotNull(mfaFactors.confirmedAt)))
        .for('update');
      if (!factor) return tx.rollback();
      if (spending && !(await spendLocked(tx, userId, factor, spending))) {
        refused = 'code-refused';
        return tx.rollback();
      }
      await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
      await tx.insert(recoveryCodes).values(codeHashes.map((codeHash) => ({ id: randomUUID(), userId, codeHash, createdAt: now })));
      // Last, as disable and confirm lock it: the insert's check of the user (KEY SHARE) never
      // waits while this holds the session, for whatever holds the user and waits for the session.
      if (!(await lockLiveSession(tx, userId, bySessionId, now))) {
        refused = 'session-ended';
        return tx.rollback();
      }
      return 'replaced' as const;
    });
    return replaced ?? refused;
  }

  /**
   * Locks in the order every transaction here takes: challenges, factor, codes, user (no
   * deadlock), then the asking session, as a revocation of all sessions does (user, sessions).
   * The code the asking session sent is spent once the factor is locked (and rolled back with
   * everything else when the session turns out to have ended).
   */
  async disable(userId: string, now: Date, only: DisableOnly = {}) {
    let refused: 'code-refused' | 'mfa-off' | null = null;
    const disabled = await transaction(this.db, null, async (tx) => {
      await tx.delete(mfaChallenges).where(eq(mfaChallenges.userId, userId));
      const removed = await tx
        .delete(mfaFactors)
        .where(and(eq(mfaFactors.userId, userId), only.sealedUnder === undefined ? undefined : eq(mfaFactors.encryptionKeyId, only.sealedUnder)))
        .returning({ confirmedAt: mfaFactors.confirmedAt, lastStep: mfaFactors.lastStep });
      // Replaced meanwhile by one sealed under another key: nothing of it is lost, nothing changes.
      if (only.sealedUnder !== undefined && removed.length === 0) return tx.rollback();
      const spending = only.by?.spending;
      const confirmed = removed.find((factor) => factor.confirmedAt !== null);
      if (only.by && spending && !confirmed) {
        // MFA went off since the code was checked: nothing to spend it on. Said as such while
        // the asking session lives (off from another session, it has ended with that change).
        if (await isLiveSession(tx, userId, only.by.sessionId, now)) refused = 'mfa-off';
        return tx.rollback();
      }
      if (spending && confirmed && !(await spendLocked(tx, userId, confirmed, spending, true))) {
        refused = 'code-refused';
        return tx.rollback();
      }
      await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
      const [before] = await tx.select({ mfaEnabled: users.mfaEnabled }).from(users).where(eq(users.id, userId)).for('no key update');
      await tx.update(users).set({ mfaEnabled: false }).where(eq(users.id, userId));
      if (only.by && !(await lockLiveSession(tx, userId, only.by.sessionId, now))) return tx.rollback();
      const wasOn = confirmed !== undefined || before?.mfaEnabled === true;
      const ended = wasOn ? await endAllSessionsOf(tx, userId, 'mfa_changed', now, only.by?.sessionId) : [];
      return { wasOn, ended };
    });
    return disabled ?? refused;
  }

  async listSealed(pendingSince: Date) {
    const rows = await this.db.select().from(mfaFactors).where(inUse(pendingSince));
    return rows.map((r) => ({ userId: r.userId, sealed: { ciphertext: r.secretCiphertext, keyId: r.encryptionKeyId } }));
  }

  async encryptionKeyIdsInUse(pendingSince: Date) {
    const rows = await this.db.selectDistinct({ id: mfaFactors.encryptionKeyId }).from(mfaFactors).where(inUse(pendingSince));
    return rows.map((r) => r.id);
  }

  async listSealedUnder(keyId: string) {
    const rows = await this.db
      .select({ userId: mfaFactors.userId, confirmedAt: mfaFactors.confirmedAt })
      .from(mfaFactors)
      .where(eq(mfaFactors.encryptionKeyId, keyId));
    return rows.map((r) => ({ userId: r.userId, confirmed: r.confirmedAt !== null }));
  }

  async updateSealed(userId: string, before: Sealed, after: Sealed) {
    await this.db
      .update(mfaFactors)
      .set({ secretCiphertext: after.ciphertext, encryptionKeyId: after.keyId })
      .where(and(eq(mfaFactors.userId, userId), eq(mfaFactors.secretCiphertext, before.ciphertext)));
  }

  async createChallenge(challenge: { id: string; userId: string; sessionEpoch: number; tokenHash: string; createdAt: Date; expiresAt: Date }) {
    await this.db.insert(mfaChallenges).values(challenge);
  }

  async reserveChallengeAttempt(tokenHash: string, now: Date, maxAttempts: number) {
    const [row] = await this.db
      .update(mfaChallenges)
      .set({ failedAttempts: sql`${mfaChallenges.failedAttempts} + 1` })
      .where(
        and(
          eq(mfaChallenges.tokenHash, tokenHash),
          isNull(mfaChallenges.spentAt),
          gt(mfaChallenges.expiresAt, now),
          lt(mfaChallenges.failedAttempts, maxAttempts),
        ),
      )
      .returning({ id: mfaChallenges.id, userId: mfaChallenges.userId, sessionEpoch: mfaChallenges.sessionEpoch });
    return row ?? null;
  }

  /**
   * Skips rows another transaction holds (a disable deleting the user's challenges in another
   * order): pruned at the next run, never waited for, so the two never deadlock.
   */
  async pruneChallenges(before: Date) {
    const expired = this.db.select({ id: mfaChallenges.id }).from(mfaChallenges).where(lt(mfaChallenges.expiresAt, before)).for('update', { skipLocked: true });
    const rows = await this.db.delete(mfaChallenges).where(inArray(mfaChallenges.id, expired)).returning({ id: mfaChallenges.id });
    return rows.length;
  }

  async returnChallengeAttempt(id: string) {
    await this.db
      .update(mfaChallenges)
      .set({ failedAttempts: sql`${mfaChallenges.failedAttempts} - 1` })
      .where(and(eq(mfaChallenges.id, id), gt(mfaChallenges.failedAttempts, 0)));
  }
}

/** A confirmed factor, or a pending one that can still be confirmed. */
const inUse = (pendingSince: Date) => or(isNotNull(mfaFactors.confirmedAt), gt(mfaFactors.createdAt, pendingSince));

/**
 * Spends `code` in `tx`, where the user's confirmed factor (`factor`, as read under its row lock)
 * is locked already (or deleted in `tx`: `removed`): a TOTP step only if later than the factor's
 * last accepted one, a recovery code only if unused. Whether it was spent.
 */
async function spendLocked(tx: Tx, userId: string, factor: { lastStep: number | null }, code: CodeToSpend, removed = false) {
  if (code.kind === 'otp') {
    if (factor.lastStep !== null && factor.lastStep >= code.step) return false;
    // A removed factor has no step left to remember.
    if (!removed) await tx.update(mfaFactors).set({ lastStep: code.step }).where(eq(mfaFactors.userId, userId));
    return true;
  }
  const spent = await tx
    .update(recoveryCodes)
    .set({ usedAt: code.now })
    .where(and(eq(recoveryCodes.userId, userId), eq(recoveryCodes.codeHash, code.codeHash), isNull(recoveryCodes.usedAt)))
    .returning({ id: recoveryCodes.id });
  return spent.length === 1;
}

/** Only a time step later than the last accepted one: a code is never accepted twice. */
const stepIsNew = (step: number) => or(isNull(mfaFactors.lastStep), lt(mfaFactors.lastStep, step));
