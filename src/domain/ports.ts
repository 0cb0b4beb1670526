/**
 * The storage interfaces the domain owns. Adapters under storage/ implement them; the domain
 * never imports a driver. Times are always passed in (from the injected clock), never read
 * from the database's own now(), so tests can move time.
 */

export interface UserRecord {
  id: string;
  email: string;
  passwordHash: string;
  roles: string[];
  disabled: boolean;
  mfaEnabled: boolean;
  createdAt: Date;
  /**
   * Raised each time all of the user's sessions end (SessionStore.revokeAllOfUser). A session
   * starts only if it is still the epoch the login's checks were made in.
   */
  sessionEpoch: number;
}

export interface NewUser {
  id: string;
  email: string;
  passwordHash: string;
  roles: string[];
  createdAt: Date;
}

export interface UserStore {
  findByEmail(email: string): Promise<UserRecord | null>;
  findById(id: string): Promise<UserRecord | null>;
  /** The users of these ids that exist, in no particular order: one statement. */
  findByIds(ids: readonly string[]): Promise<UserRecord[]>;
  /** Inserts unless the email exists; true when inserted. Never touches an existing row. */
  insertIfAbsent(user: NewUser): Promise<boolean>;
  /**
   * Replaces the hash only if it is still `from` (a rehash of the same password); false when it
   * has changed meanwhile, e.g. by a password change, which must not be undone.
   */
  replacePasswordHash(id: string, from: string, to: string): Promise<boolean>;
  /** null enables the user again. */
  setDisabled(id: string, disabledAt: Date | null): Promise<void>;
  list(limit: number, offset: number): Promise<UserRecord[]>;
}

export interface SessionRecord {
  id: string;
  userId: string;
  amr: string[];
  userAgent: string | null;
  ip: string | null;
  createdAt: Date;
  lastUsedAt: Date;
  /** The earlier of the idle and the absolute expiry. */
  expiresAt: Date;
}

export interface NewSession {
  id: string;
  userId: string;
  amr: string[];
  userAgent: string | null;
  ip: string | null;
  createdAt: Date;
  idleExpiresAt: Date;
  absoluteExpiresAt: Date;
  tokenId: string;
  tokenHash: string;
  /** The user's session epoch the login was checked in (UserRecord.sessionEpoch). */
  sessionEpoch: number;
  /** Live sessions the user may have, this one included: the least recently used beyond end. */
  maxLiveSessions: number;
}

export interface Rotation {
  presentedHash: string;
  newTokenId: string;
  newTokenHash: string;
  now: Date;
  idleTtlSeconds: number;
}

export type RotationResult =
  | { kind: 'rotated'; session: SessionRecord; user: UserRecord }
  | { kind: 'rejected' };

/** What is known about a presented refresh token that could not be rotated. */
export interface TokenFacts {
  sessionId: string;
  userId: string;
  spentAt: Date | null;
  /**
   * True when the token it was exchanged for is the live (unspent) token of a session that is
   * itself live at the time asked about (neither ended nor expired).
   */
  isPredecessorOfLive: boolean;
}

export type RevocationReason =
  | 'logout'
  | 'logout_all'
  | 'revoked_by_user'
  | 'password_changed'
  | 'refresh_reuse'
  | 'roles_removed'
  | 'user_disabled'
  | 'mfa_changed'
  | 'session_limit'
  | 'admin';

export interface PasswordChange {
  userId: string;
  keepSessionId: string;
  checkedInEpoch: number;
  passwordHash: string;
  now: Date;
}

/** Who asks for a role change over GraphQL: the admin's user id (audited as `by`) and session. */
export interface RoleChanger {
  userId: string;
  sessionId: string;
}

export interface RoleChange {
  userId: string;
  /** May throw (a refused change): nothing changes. */
  change: (current: string[]) => string[];
  now: Date;
  askedBy?: RoleChanger | undefined;
}

export type RoleChangeResult =
  | { kind: 'changed'; before: string[]; after: UserRecord; ended: string[] }
  | { kind: 'unknown_user' }
  | { kind: 'caller_session_ended' };

export interface SessionStore {
  /**
   * Creates the session and its first refresh token together, only while the user is enabled
   * and still in `sessionEpoch`; null otherwise (nothing is created). Atomic against
   * revokeAllOfUser: a session is either refused or seen, and so ended, by it. Ends (reason
   * `session_limit`) the user's least recently used live sessions beyond `maxLiveSessions`, and
   * returns their ids; concurrent creations for one user take turns, so none exceeds it.
   */
  create(session: NewSession): Promise<{ ended: string[] } | null>;
  /**
   * Spends the presented token and issues its successor in one atomic step: of any number of
   * concurrent calls with one token, at most one is `rotated`. Rejects when the token is
   * unknown or spent, the session revoked or expired, or the user disabled.
   */
  rotate(rotation: Rotation): Promise<RotationResult>;
  inspectToken(tokenHash: string, now: Date): Promise<TokenFacts | null>;
  /** Revokes one live session; false when it was already revoked or does not exist. */
  revoke(sessionId: string, reason: RevocationReason, now: Date): Promise<boolean>;
  /** Revokes one live session only when it belongs to userId. */
  revokeOwn(userId: string, sessionId: string, reason: RevocationReason, now: Date): Promise<boolean>;
  /**
   * Revokes every live session of a user (but `exceptSessionId`) and raises the user's session
   * epoch, so that no login or MFA challenge checked before can start a session afterwards;
   * returns the revoked ids.
   */
  revokeAllOfUser(
    userId: string,
    reason: RevocationReason,
    now: Date,
    exceptSessionId?: string,
  ): Promise<string[]>;
  /**
   * A password change, in one transaction: replaces the user's password hash, raises the epoch
   * and ends every other session of the user (reason `password_changed`), returning their ids;
   * only while the user is enabled and still in `checkedInEpoch` (the epoch the current password
   * was checked in) and `keepSessionId` (the caller's) is live. Null otherwise, and nothing
   * changes: a change checked before another password change, a logoutAll or a disabling, or
   * sent from a session ended meanwhile, never lands after it.
   */
  changePassword(change: PasswordChange): Promise<{ ended: string[] } | null>;
  /**
   * A change of a user's roles, in one transaction: replaces them with `change(current)`, read and
   * written under the user's row lock (concurrent changes do not lose each other), and when any
   * role is taken away, raises the epoch and ends every session of the user (reason
   * `roles_removed`), returning their ids. Nothing can land in between, so a change either ends
   * the sessions or does not happen, and a retry after a failure finds the roles as they were.
   * With `askedBy`, only while that session (the admin's who asks) is live, locked against its
   * revocation: a request already past its role check cannot land after its caller was demoted.
   */
  changeRoles(change: RoleChange): Promise<RoleChangeResult>;
  /**
   * Disables the user and ends every session of theirs (reason `user_disabled`, the epoch raised
   * as revokeAllOfUser does), in one transaction, returning the ended ids: a disabling that fails
   * leaves the user enabled, and its retry does both.
   */
  disableUser(userId: string, now: Date): Promise<string[]>;
  listLive(userId: string, now: Date): Promise<SessionRecord[]>;
  /** Every session that ended at or after `since` (any user), with when it ended. */
  listEndedSince(since: Date): Promise<Array<{ id: string; revokedAt: Date }>>;
  /** Deletes sessions (with their tokens) that expired or were revoked before `before`. */
  prune(before: Date): Promise<number>;
  /** Deletes the refresh tokens spent before `before` of the sessions live at `now` (prune takes the others with their sessions). */
  pruneSpentTokens(before: Date, now: Date): Promise<number>;
}

export interface StoredSigningKey {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  /** The private JWK, encrypted (see crypto/secret-box). */
  privateKeyCiphertext: string;
  encryptionKeyId: string;
  createdAt: Date;
  activatesAt: Date;
  retiresAt: Date | null;
}

export interface SigningKeyStore {
  list(): Promise<StoredSigningKey[]>;
  /**
   * Inserts `candidate` unless a usable (unretired) key for its algorithm exists; serialised
   * across instances so that concurrent first starts agree on one key. Returns the keys after,
   * `candidate` itself among them when it was inserted (KeyRing.load tells so by identity).
   */
  insertIfNoneUsable(candidate: StoredSigningKey, now: Date): Promise<StoredSigningKey[]>;
  updateCiphertext(kid: string, ciphertext: string, encryptionKeyId: string): Promise<void>;
  /**
   * Retires at `now` every key not yet retired whose private key is sealed under the key id
   * (serialised like insertIfNoneUsable), and cancels the retirement of the key of `alg` that
   * carries it on instead, if one must (keyCarryingOn); returns their kids.
   */
  retireSealedUnder(encryptionKeyId: string, now: Date, alg: string): Promise<{ retired: string[]; carriedOnBy: string | null }>;
  /** The ENCRYPTION_KEYS ids sealing keys not retired at `now` (pending, signing or retiring), each once. */
  encryptionKeyIdsInUse(now: Date): Promise<string[]>;
  /**
   * Adds `candidate` and schedules every other unretired key of its algorithm to retire at
   * `retireOthersAt`, in one transaction serialised like insertIfNoneUsable; one that would
   * activate only at or after the candidate does (a pending key added with a longer
   * KEY_PUBLISH_AHEAD) retires at its activation if that comes first, so that it never signs. With
   * `unlessCreatedAfter`, does nothing (and returns false) when a key of that algorithm was
   * created after it: of many instances due to rotate at once, one does.
   */
  addRotation(candidate: StoredSigningKey, retireOthersAt: Date, unlessCreatedAfter?: Date): Promise<boolean>;
  /** Schedules one unretired key to retire at `at` (serialised like the others); false when it had a retirement already. */
  scheduleRetirement(kid: string, at: Date): Promise<boolean>;
}

/**
 * Which ENCRYPTION_KEYS ids have been the current (first) key, and since when. A key first put
 * first, or re-made current by `reencrypt`, becomes the most recent, whatever the clocks say.
 */
export interface EncryptionKeyHistory {
  /**
   * Records `keyId` as current from `at` unless it has been current before, and returns the
   * keys made current since it was, most recent first.
   */
  recordCurrent(keyId: string, at: Date): Promise<Array<{ keyId: string; currentSince: Date }>>;
  /** The keys made current since `keyId` was, most recent first (none if it never was); records nothing. */
  laterThan(keyId: string): Promise<Array<{ keyId: string; currentSince: Date }>>;
  /** Makes `keyId` the most recent current key (from `at`, or just after the latest). */
  markCurrent(keyId: string, at: Date): Promise<void>;
  /**
   * Whether `keyId` has ever been current (an instance started with it first, or reencrypt made
   * it so): undefined while nothing has been recorded at all (no instance has started yet).
   */
  wasCurrent(keyId: string): Promise<boolean | undefined>;
}
