import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { KeyRing } from './key-ring';

export interface AccessTokenSettings {
  issuer: string;
  audience: string;
  accessTokenTtl: number;
}

export interface AccessTokenSubject {
  userId: string;
  sessionId: string;
  roles: string[];
  amr: string[];
}

export interface SignedAccessToken {
  token: string;
  expiresIn: number;
}

export async function signAccessToken(
  keys: KeyRing,
  settings: AccessTokenSettings,
  now: Date,
  subject: AccessTokenSubject,
): Promise<SignedAccessToken> {
  const iat = Math.floor(now.getTime() / 1000);
  const token = await new SignJWT({
    sid: subject.sessionId,
    roles: subject.roles,
    // Routers that enforce @requiresScopes read the roles from here.
    scope: subject.roles.join(' '),
    amr: subject.amr,
  })
    .setProtectedHeader({ alg: keys.signing.alg, kid: keys.signing.kid, typ: 'at+jwt' })
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setSubject(subject.userId)
    .setJti(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + settings.accessTokenTtl)
    .sign(keys.signing.privateKey);
  return { token, expiresIn: settings.accessTokenTtl };
}
