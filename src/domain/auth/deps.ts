import type { Audit } from '../audit';
import type { Clock } from '../clock';
import type { SecretBox } from '../crypto/secret-box';
import type { MfaStore } from '../mfa/ports';
import type { RevocationFeed } from '../revocation/ports';
import type { PasswordHasher } from '../passwords/password-hasher';
import type { PasswordPolicy } from '../passwords/check-password-policy';
import type { SessionStore, UserStore } from '../ports';
import type { Throttle } from '../throttle';
import type { AccessClaims, AccessTokenSettings, KeyRing, VerifiedTokenCache } from '../tokens';

/** What the auth use cases need, injected once at start-up (and per test). */
export interface AuthDeps {
  clock: Clock;
  users: UserStore;
  sessions: SessionStore;
  hasher: PasswordHasher;
  keys: KeyRing;
  /** Access tokens already verified under `keys` (the guard's fast path; revocation checked apart). */
  verifiedTokens: VerifiedTokenCache;
  throttle: Throttle;
  /** Sessions ended while their access tokens live on: the guard refuses those tokens. */
  revocations: RevocationFeed;
  mfa: MfaStore;
  box: SecretBox;
  /** Security events for the log (see domain/audit): never a secret, code or token in `fields`. */
  audit: Audit;
  settings: {
    jwt: AccessTokenSettings & { alg: string };
    refresh: { idleTtl: number; maxTtl: number; reuseGraceSeconds: number; maxSessionsPerUser: number };
    passwordPolicy: PasswordPolicy;
    mfa: { issuer: string; attemptsPerChallenge: number; challengeTtl: number };
  };
}

/** Who is calling, from a verified access token. */
export type Viewer = AccessClaims;

/** Where a login or refresh came from, recorded on the session. */
export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
}
