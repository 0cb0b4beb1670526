import { Secret, TOTP } from 'otpauth';

/** RFC 6238 as authenticator apps expect it: SHA-1, 6 digits, 30 s steps, 160-bit secrets. */
const PERIOD = 30;
const WINDOW = 1;

export const newTotpSecret = () => new Secret({ size: 20 }).base32;

export function otpauthUri(secretBase32: string, issuer: string, accountEmail: string) {
  return totp(secretBase32, issuer, accountEmail).toString();
}

/**
 * The time step a code belongs to (now ±1 step), or null for a wrong code. The caller accepts
 * the step only if it is later than the last accepted one, so no code works twice. Whitespace
 * anywhere is left out: apps show the code as `123 456`, and people type it so.
 */
export function matchingStep(secretBase32: string, code: string, now: Date): number | null {
  const digits = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(digits)) return null;
  const delta = totp(secretBase32).validate({ token: digits, timestamp: now.getTime(), window: WINDOW });
  return delta === null ? null : Math.floor(now.getTime() / 1000 / PERIOD) + delta;
}

function totp(secretBase32: string, issuer = '', label = '') {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits: 6, period: PERIOD, secret: Secret.fromBase32(secretBase32) });
}
