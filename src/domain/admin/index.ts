export { grantRole, revokeRole } from './change-role';
export { disableUser, enableUser } from './set-user-disabled';
export { revokeUserSessions } from './revoke-user-sessions';
export { prune } from './prune';
export { reencrypt, type ReencryptReport, type ResealFailure } from './reencrypt';
export { resetMfa } from './reset-mfa';
export { forgetEncryptionKey, type SealedUnderKey } from './forget-encryption-key';
export { unblockAccount, CountersNotClearedError } from './unblock-account';
