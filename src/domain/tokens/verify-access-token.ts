import { jwtVerify } from 'jose';
import type { KeyRing } from './key-ring';

export const CLOCK_SKEW_SECONDS = 60;

export interface AccessClaims {
  userId: string;
  sessionId: string;
  roles: string[];
  amr: string[];
}

export interface VerifySettings {
  issuer: string;
  audience: string;
  alg: string;
}

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/**
 * The claims of a valid access token, or null for anything else: missing, malformed, forged,
 * expired, another algorithm, issuer, audience or token type. Never throws for a bad token.
 */
export async function verifyAccessToken(
  keys: KeyRing,
  settings: VerifySettings,
  now: Date,
  token: string,
): Promise<AccessClaims | null> {
  try {
    const { payload } = await jwtVerify(token, keys.verificationKeys, {
      algorithms: [settings.alg],
      issuer: settings.issuer,
      audience: settings.audience,
      typ: 'at+jwt',
      clockTolerance: CLOCK_SKEW_SECONDS,
      currentDate: now,
      requiredClaims: ['sub', 'sid', 'jti', 'iat', 'exp'],
    });
    const { sub, sid, roles, amr } = payload;
    if (typeof sub !== 'string' || typeof sid !== 'string' || !isStringArray(roles) || !isStringArray(amr)) {
      return null;
    }
    return { userId: sub, sessionId: sid, roles, amr };
  } catch {
    return null;
  }
}
