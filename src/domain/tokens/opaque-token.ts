import { createHash, randomBytes } from 'node:crypto';

/**
 * A secret handed to a client and kept only as its digest: refresh tokens and MFA challenge
 * tokens. 256 bits from the CSPRNG, base64url: opaque to clients.
 */
export const newOpaqueToken = () => randomBytes(32).toString('base64url');

/** Only this digest is stored. SHA-256 suffices: the token has 256 bits of entropy. */
export const hashOpaqueToken = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');
