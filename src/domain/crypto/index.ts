export { SecretBox, MissingEncryptionKeyError, SecretDoesNotOpenError, generateEncryptionKeyEntry, type EncryptionKey, type Sealed } from './secret-box';
export { ENCRYPTION_KEY_ID } from './key-id';
export { findLaterCurrentKeys, keyReplacedSince } from './find-later-current-keys';
export { findMissingEncryptionKeys } from './find-missing-encryption-keys';
