import { jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose';
import type { KeyRing } from './key-ring';
import type { VerifiedTokenCache } from './verified-token-cache';

export const CLOCK_SKEW_SECONDS = 60;
/** The longest ACCESS_TOKEN_TTL: a verifier that does not know the setting refuses older tokens. */
export const MAX_ACCESS_TOKEN_TTL = 3600;
/** How long verifiers may cache the key set; new keys are published longer ahead than this. */
export const JWKS_MAX_AGE_SECONDS = 300;

/** What an access token says of who holds it: what the gateway signs, and reads back as the viewer. */
export interface AccessClaims {
  userId: string;
  sessionId: string;
  roles: string[];
  amr: string[];
}

export interface VerifySettings {
  issuer: string;
  audience: string;
  /** ACCESS_TOKEN_TTL: no token of ours is older, nor issued in the future. */
  accessTokenTtl: number;
}

/**
 * Three base64url segments without padding, the signature spelt as its bytes encode (RFC 7515).
 * The decoder would also take `=` padding and other values of a last character's unused bits:
 * more spellings of one signed token, each a verified-token cache entry of its own (and, to the
 * subgraph kit, a token its callers would tell apart from the one the gateway issued).
 */
export function isCanonicalCompactJws(token: string) {
  const segments = token.split('.');
  if (segments.length !== 3 || !segments.every((s) => BASE64URL.test(s))) return false;
  const signature = segments[2]!;
  return Buffer.from(signature, 'base64url').toString('base64url') === signature;
}
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** What every verifier of our access tokens requires (the gateway and the subgraph kit alike). */
export const ACCESS_TOKEN_CHECKS = Object.freeze({
  typ: 'at+jwt',
  requiredClaims: ['sub', 'sid', 'jti', 'iat', 'exp'],
}) satisfies JWTVerifyOptions;

export const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** The claims of a verified payload, or null when one is missing or of the wrong type. */
export function accessClaimsOf(payload: JWTPayload): AccessClaims | null {
  const { sub, sid, roles, amr } = payload;
  if (typeof sub !== 'string' || typeof sid !== 'string' || !isStringArray(roles) || !isStringArray(amr)) return null;
  return { userId: sub, sessionId: sid, roles, amr };
}

/**
 * The claims of a valid access token, or null for anything else: missing, malformed, forged,
 * expired, an algorithm other than that of the key its `kid` names, another issuer, audience or
 * token type. Never throws for a bad token.
 * With a cache, a token verified before (under the same keys, before its exp) is not verified
 * again; revocation is the caller's to check either way.
 */
export async function verifyAccessToken(
  keys: KeyRing,
  settings: VerifySettings,
  now: Date,
  token: string,
  cache?: VerifiedTokenCache,
): Promise<AccessClaims | null> {
  const cached = cache?.get(keys, token, now);
  if (cached) return cached;
  if (!isCanonicalCompactJws(token)) return null;
  try {
    const { payload } = await jwtVerify(token, keys.verificationKeys, {
      algorithms: keys.algorithms,
      issuer: settings.issuer,
      audience: settings.audience,
      ...ACCESS_TOKEN_CHECKS,
      clockTolerance: CLOCK_SKEW_SECONDS,
      currentDate: now,
      // Also refuses an iat in the future (beyond the skew): an instance whose clock runs ahead
      // would otherwise issue tokens that outlive their TTL, and the revocations that cover it.
      maxTokenAge: settings.accessTokenTtl,
    });
    const claims = accessClaimsOf(payload);
    if (!claims) return null;
    const { exp, iat } = payload;
    // Until the token fails either limit: its exp, or the age this instance allows (a token
    // issued with a longer ACCESS_TOKEN_TTL, by an instance set otherwise, passes only that long).
    cache?.set(keys, token, claims, Math.min(exp!, iat! + settings.accessTokenTtl + CLOCK_SKEW_SECONDS) * 1000);
    return claims;
  } catch {
    return null;
  }
}
