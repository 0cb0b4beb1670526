/** The database schema. drizzle-kit generates drizzle/ from this file; a test fails when they disagree. */
import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

const tz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey(),
    // In the one spelling normalizeEmail gives (trimmed, NFKC, lower-cased, the domain as UTS #46 maps it).
    email: text('email').notNull(),
    passwordHash: text('password_hash').notNull(),
    roles: text('roles').array().notNull().default(sql`'{user}'::text[]`),
    disabledAt: tz('disabled_at'),
    mfaEnabled: boolean('mfa_enabled').notNull().default(false),
    createdAt: tz('created_at').notNull(),
    /**
     * Raised whenever all of the user's sessions are ended. A session starts only under the
     * epoch its login was checked in: a login that overlaps the ending cannot outlive it.
     */
    sessionEpoch: integer('session_epoch').notNull().default(0),
  },
  (t) => [uniqueIndex('users_email_key').on(t.email), index('users_created_at_idx').on(t.createdAt, t.id)],
);

/** A session is one refresh-token family: one login and all its rotations. */
export const sessions = pgTable(
  'sessions',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    amr: text('amr').array().notNull(),
    userAgent: text('user_agent'),
    ip: text('ip'),
    createdAt: tz('created_at').notNull(),
    lastUsedAt: tz('last_used_at').notNull(),
    idleExpiresAt: tz('idle_expires_at').notNull(),
    expiresAt: tz('expires_at').notNull(),
    revokedAt: tz('revoked_at'),
    revokedReason: text('revoked_reason'),
  },
  (t) => [
    index('sessions_user_id_idx').on(t.userId),
    // A user's sessions not revoked: what listing them and the limit per user read (the latter
    // at every login), without the ended ones, which a login loop leaves by the thousand until pruned.
    index('sessions_user_unrevoked_idx').on(t.userId).where(sql`revoked_at IS NULL`),
    // The sessions ended lately, which every instance reads every REVOCATION_POLL_SECONDS.
    index('sessions_revoked_at_idx').on(t.revokedAt).where(sql`revoked_at IS NOT NULL`),
  ],
);

/** Refresh tokens are stored only as SHA-256 hashes; spent ones stay for reuse detection. */
export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    id: uuid('id').primaryKey(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull(),
    parentId: uuid('parent_id'),
    createdAt: tz('created_at').notNull(),
    spentAt: tz('spent_at'),
  },
  (t) => [
    uniqueIndex('refresh_tokens_token_hash_key').on(t.tokenHash),
    index('refresh_tokens_session_id_idx').on(t.sessionId),
    index('refresh_tokens_parent_id_idx').on(t.parentId),
  ],
);

/** JWT signing keys; the private half only ever encrypted under ENCRYPTION_KEYS. */
export const signingKeys = pgTable('signing_keys', {
  kid: text('kid').primaryKey(),
  alg: text('alg').notNull(),
  publicJwk: jsonb('public_jwk').$type<Record<string, unknown>>().notNull(),
  privateKeyCiphertext: text('private_key_ciphertext').notNull(),
  encryptionKeyId: text('encryption_key_id').notNull(),
  createdAt: tz('created_at').notNull(),
  activatesAt: tz('activates_at').notNull(),
  retiresAt: tz('retires_at'),
});

/**
 * Each ENCRYPTION_KEYS id that has been the current (first) key, and since when: when an
 * instance first started with it first, or `reencrypt` last re-sealed everything under it.
 */
export const encryptionKeyHistory = pgTable('encryption_key_history', {
  keyId: text('key_id').primaryKey(),
  currentSince: tz('current_since').notNull(),
});

/** A user's TOTP factor: pending until confirmed. The secret only ever sealed (secret-box). */
export const mfaFactors = pgTable('mfa_factors', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  secretCiphertext: text('secret_ciphertext').notNull(),
  encryptionKeyId: text('encryption_key_id').notNull(),
  createdAt: tz('created_at').notNull(),
  confirmedAt: tz('confirmed_at'),
  /** The last accepted TOTP time step: only later steps are accepted (no replay). */
  lastStep: bigint('last_step', { mode: 'number' }),
  /** The user's session epoch at enrolment: a pending factor cannot be confirmed in a later one. */
  sessionEpoch: integer('session_epoch').notNull().default(0),
});

/** Recovery codes, stored only as hashes, each spent once. */
export const recoveryCodes = pgTable(
  'recovery_codes',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    codeHash: text('code_hash').notNull(),
    createdAt: tz('created_at').notNull(),
    usedAt: tz('used_at'),
  },
  (t) => [uniqueIndex('recovery_codes_user_hash_key').on(t.userId, t.codeHash)],
);

/** The second login step: one per password login of an MFA user; the token only as a hash. */
export const mfaChallenges = pgTable(
  'mfa_challenges',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull(),
    createdAt: tz('created_at').notNull(),
    expiresAt: tz('expires_at').notNull(),
    failedAttempts: integer('failed_attempts').notNull().default(0),
    spentAt: tz('spent_at'),
    /** The user's session epoch when the password was checked: the session starts under it. */
    sessionEpoch: integer('session_epoch').notNull().default(0),
  },
  (t) => [uniqueIndex('mfa_challenges_token_hash_key').on(t.tokenHash), index('mfa_challenges_user_id_idx').on(t.userId)],
);
