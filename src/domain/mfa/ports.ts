import type { Sealed } from '../crypto/secret-box';

/** The replay guard (the last accepted step) lives in the store's atomic updates, not here. */
export interface MfaFactor {
  sealed: Sealed;
  confirmed: boolean;
  /** When enrollMfa saved it, and in which of the user's session epochs. */
  enrolledAt: Date;
  sessionEpoch: number;
}

/**
 * A login challenge spent together with a code (acceptStep, useRecoveryCode): both are spent,
 * or neither, so a code is not used up by a login that loses its challenge to another code.
 * (A session can still be refused after both are spent: the user disabled, or all sessions
 * ended, in between.)
 */
export interface ChallengeToSpend {
  id: string;
  now: Date;
}

/**
 * A code found right, to be spent: a TOTP code's time step (accepted only if later than the last
 * accepted one) or an unused recovery code.
 */
export type CodeToSpend = { kind: 'otp'; step: number } | { kind: 'rcode'; codeHash: string; now: Date };

/**
 * What spending a code came to. `refused`: the code is wrong, used or replayed. `challenge-gone`:
 * the challenge it came with was spent (by a concurrent right code) or expired; `session-ended`:
 * the change it was spent for is asked by a session that has ended. Either way the code was left
 * unspent.
 */
export type CodeSpend = 'spent' | 'refused' | 'challenge-gone' | 'session-ended';

/** Storage of TOTP factors, recovery codes and login challenges. One-time things are spent atomically. */
export interface MfaStore {
  getFactor(userId: string): Promise<MfaFactor | null>;
  /** Starts or restarts a pending enrolment; never touches a confirmed factor (false then). */
  savePending(userId: string, sealed: Sealed, now: Date, sessionEpoch: number): Promise<boolean>;
  /**
   * Confirms the pending factor (only if it is still the `sealed` secret the code was checked
   * against, and the user is still in the session epoch it was enrolled in) with the accepted
   * time step, enables MFA on the user, stores the recovery codes and ends the user's other
   * sessions (`ended`; reason `mfa_changed`, the epoch raised as revokeAllOfUser does), in one
   * transaction, while the session asking (`bySessionId`) is live at `now`. What it answers
   * otherwise (nothing written): `unconfirmed` when that pending factor is gone, replaced, voided
   * or its step spent.
   */
  confirm(
    userId: string,
    sealed: Sealed,
    step: number,
    codeHashes: string[],
    now: Date,
    bySessionId: string,
  ): Promise<{ ended: string[] } | 'unconfirmed' | 'session-ended'>;
  /** Accepts a TOTP step only if it is later than the last accepted one (atomic). */
  acceptStep(userId: string, step: number, withChallenge?: ChallengeToSpend): Promise<CodeSpend>;
  /** Spends an unused recovery code (atomic). */
  useRecoveryCode(userId: string, codeHash: string, now: Date, withChallenge?: ChallengeToSpend): Promise<CodeSpend>;
  /**
   * The user's recovery codes become these, atomically, only while MFA is on and the session
   * asking (`bySessionId`) is live at `now`: what it answers otherwise, with nothing written.
   * With `spending`, the code the change was asked with is spent in the same transaction
   * (`code-refused` when it cannot be: used meanwhile), so a refused change leaves it unspent.
   */
  replaceRecoveryCodes(
    userId: string,
    codeHashes: string[],
    now: Date,
    bySessionId: string,
    spending?: CodeToSpend,
  ): Promise<'replaced' | 'mfa-off' | 'session-ended' | 'code-refused'>;
  /**
   * Removes the factor and the codes and turns MFA off; `wasOn` says whether MFA was on at that
   * moment (a confirmed factor, or the user's flag), whatever was read before. When it was, the
   * user's sessions (but `by`'s) end in the same transaction (reason `mfa_changed`, the epoch
   * raised as revokeAllOfUser does): `ended` names them. A removal that fails ends none, and its
   * retry finds MFA as it was. Null, with
   * nothing changed, when `only` does not hold: the asking session (`by`; an admin's reset has
   * none) has ended, or the factor is no longer one sealed under `sealedUnder`. With the code
   * `by` was asked with, which is spent in the same transaction (so a refused removal leaves it
   * unspent), and nothing changed: `code-refused` when it cannot be spent (used meanwhile),
   * `mfa-off` when there is no confirmed factor left to remove while the session lives.
   */
  disable(userId: string, now: Date, only?: DisableOnly): Promise<{ wasOn: boolean; ended: string[] } | 'code-refused' | 'mfa-off' | null>;
  /**
   * The TOTP secrets in use: confirmed ones, and pending ones saved after `pendingSince` (an
   * older pending one can never be confirmed: enrolmentsLiveSince).
   */
  listSealed(pendingSince: Date): Promise<Array<{ userId: string; sealed: Sealed }>>;
  /** The ENCRYPTION_KEYS ids sealing the TOTP secrets in use (as listSealed), each once. */
  encryptionKeyIdsInUse(pendingSince: Date): Promise<string[]>;
  /** Every TOTP factor sealed under the key id, confirmed or pending, however old. */
  listSealedUnder(keyId: string): Promise<Array<{ userId: string; confirmed: boolean }>>;
  /** Replaces `before` with `after`; a secret replaced meanwhile is left alone. */
  updateSealed(userId: string, before: Sealed, after: Sealed): Promise<void>;

  createChallenge(challenge: { id: string; userId: string; sessionEpoch: number; tokenHash: string; createdAt: Date; expiresAt: Date }): Promise<void>;
  /**
   * Counts one attempt on a live challenge (unspent, unexpired, fewer than `maxAttempts` so far)
   * before the code is checked, atomically, so concurrent guesses cannot exceed the cap. Null
   * when the challenge is unknown, spent, expired or used up.
   */
  reserveChallengeAttempt(
    tokenHash: string,
    now: Date,
    maxAttempts: number,
  ): Promise<{ id: string; userId: string; sessionEpoch: number } | null>;
  /** Gives back the attempt reserveChallengeAttempt counted, when no code was checked after all. */
  returnChallengeAttempt(id: string): Promise<void>;
  /** Deletes challenges that expired before `before`; returns how many. */
  pruneChallenges(before: Date): Promise<number>;
}

/** What a removal of MFA takes place only under. */
export interface DisableOnly {
  /** While this session of the user's is live at the removal's `now` (a user's own disableMfa), spending its code. */
  by?: { sessionId: string; spending?: CodeToSpend | undefined } | undefined;
  /** Only a factor sealed under this ENCRYPTION_KEYS id (forget-encryption-key). */
  sealedUnder?: string | undefined;
}
