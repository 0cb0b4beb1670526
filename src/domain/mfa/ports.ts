import type { Sealed } from '../crypto/secret-box';

/** The replay guard (the last accepted step) lives in the store's atomic updates, not here. */
export interface MfaFactor {
  sealed: Sealed;
  confirmed: boolean;
}


/** Storage of TOTP factors, recovery codes and login challenges. One-time things are spent atomically. */
export interface MfaStore {
  getFactor(userId: string): Promise<MfaFactor | null>;
  /** Starts or restarts a pending enrolment; never touches a confirmed factor (false then). */
  savePending(userId: string, sealed: Sealed, now: Date): Promise<boolean>;
  /**
   * Confirms the pending factor (only if it is still the `sealed` secret the code was checked
   * against) with the accepted time step, enables MFA on the user and stores the recovery
   * codes, in one transaction. False when that pending factor is gone or replaced.
   */
  confirm(userId: string, sealed: Sealed, step: number, codeHashes: string[], now: Date): Promise<boolean>;
  /** Accepts a TOTP step only if it is later than the last accepted one (atomic). */
  acceptStep(userId: string, step: number): Promise<boolean>;
  /** Spends an unused recovery code (atomic). */
  useRecoveryCode(userId: string, codeHash: string, now: Date): Promise<boolean>;
  replaceRecoveryCodes(userId: string, codeHashes: string[], now: Date): Promise<void>;
  /** Removes the factor and the codes and turns MFA off. */
  disable(userId: string): Promise<void>;
  listSealed(): Promise<Array<{ userId: string; sealed: Sealed }>>;
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
  /** Spends the challenge once (atomic); false when it was already spent or has expired. */
  spendChallenge(id: string, now: Date): Promise<boolean>;
  /** Deletes challenges that expired before `before`; returns how many. */
  pruneChallenges(before: Date): Promise<number>;
}
