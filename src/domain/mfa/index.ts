export type { MfaStore, MfaFactor } from './ports';
export { enrollMfa, type MfaEnrollment } from './enroll-mfa';
export { confirmMfa } from './confirm-mfa';
export { verifyMfa } from './verify-mfa';
export { disableMfa } from './disable-mfa';
export { regenerateRecoveryCodes } from './regenerate-recovery-codes';
export { startMfaChallenge } from './start-challenge';
export { RECOVERY_CODES_PER_SET, normalizeRecoveryCode, hashRecoveryCode } from './recovery-codes';
export { openTotpSecret, sealTotpSecret } from './secret';
