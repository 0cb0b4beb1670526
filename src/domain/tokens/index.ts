export { KeyRing, generateStoredKey, isUsable, keyCarryingOn, type SigningAlg } from './key-ring';
export { signAccessToken, type AccessTokenSettings, type SignedAccessToken } from './sign-access-token';
export { verifyAccessToken, CLOCK_SKEW_SECONDS, JWKS_MAX_AGE_SECONDS, MAX_ACCESS_TOKEN_TTL, type AccessClaims } from './verify-access-token';
export { VerifiedTokenCache } from './verified-token-cache';
export { newOpaqueToken, hashOpaqueToken } from './opaque-token';
export { rotateSigningKey, describeKeys, type RotationSettings, type KeyState } from './rotate-signing-key';
export { rotateSigningKeyIfDue } from './rotate-signing-key-if-due';
export { retireSigningKey } from './retire-signing-key';
