import type { Sealed, SecretBox } from '../crypto/secret-box';

/** Associated data binding a sealed TOTP secret to its user: it cannot be moved to another. */
const aad = (userId: string) => `mfa:${userId}`;

export const sealTotpSecret = (box: SecretBox, userId: string, secret: string) => box.seal(secret, aad(userId));
export const openTotpSecret = (box: SecretBox, userId: string, sealed: Sealed) => box.open(sealed, aad(userId));
