import { createHash, randomBytes } from 'node:crypto';

/** 256 bits from the CSPRNG, base64url: opaque to clients. */
export const newRefreshToken = () => randomBytes(32).toString('base64url');

/** Only this digest is stored. SHA-256 suffices: the token has 256 bits of entropy. */
export const hashRefreshToken = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');
