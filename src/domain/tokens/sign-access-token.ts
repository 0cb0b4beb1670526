import { randomUUID, sign } from 'node:crypto';
import type { KeyRing, SigningAlg, SigningKey } from './key-ring';
import type { AccessClaims } from './verify-access-token';

export interface AccessTokenSettings {
  issuer: string;
  audience: string;
  accessTokenTtl: number;
}

export interface SignedAccessToken {
  token: string;
  expiresIn: number;
}

const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The JWS signature of `input` (RFC 7518): ECDSA as r‖s, Ed25519, RSASSA-PKCS1-v1_5. */
function signature(alg: SigningAlg, input: string, key: SigningKey['keyObject']) {
  const data = Buffer.from(input);
  switch (alg) {
    case 'ES256':
      return sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
    case 'EdDSA':
      return sign(null, data, key);
    case 'RS256':
      return sign('sha256', data, key);
  }
}

/**
 * A compact JWS (`typ: at+jwt`), signed with node:crypto on the calling thread. WebCrypto (what
 * jose signs with) sends every signature through libuv's thread pool, where during a login
 * storm it would wait behind password hashes, and its dispatch alone costs more than the
 * signature. Keys come from jose (KeyRing); every verifier checks these tokens with jose.
 * It expires after ACCESS_TOKEN_TTL, or when its session does (`sessionEndsAt`) if that is
 * sooner: a session that has expired, which no list of live sessions shows and no revocation
 * reaches, keeps a working token no longer than the verifiers' clock skew (60 s) past its end.
 */
export function signAccessToken(
  keys: KeyRing,
  settings: AccessTokenSettings,
  now: Date,
  subject: AccessClaims,
  sessionEndsAt: Date,
): SignedAccessToken {
  const iat = Math.floor(now.getTime() / 1000);
  const exp = Math.max(iat + 1, Math.min(iat + settings.accessTokenTtl, Math.floor(sessionEndsAt.getTime() / 1000)));
  // Chosen at `now`, not at the ring's load: every instance switches at the key's activatesAt.
  const { alg, kid, keyObject } = keys.signingKey(now);
  const input = `${part({ alg, kid, typ: 'at+jwt' })}.${part({
    sid: subject.sessionId,
    roles: subject.roles,
    // Routers that enforce @requiresScopes read the roles from here.
    scope: subject.roles.join(' '),
    amr: subject.amr,
    iss: settings.issuer,
    aud: settings.audience,
    sub: subject.userId,
    jti: randomUUID(),
    iat,
    exp,
  })}`;
  return { token: `${input}.${signature(alg, input, keyObject).toString('base64url')}`, expiresIn: exp - iat };
}
