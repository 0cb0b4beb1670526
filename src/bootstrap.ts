/**
 * Shared start-up for the server and the admin CLI: settings → encryption keys → database.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { ConfigError, type Config, type EncryptionKey, type TrustProxy } from './config';
import { describeError } from './describe-error';
import { StartupRefusal } from './failure';
import type { RateLimitMode } from './http/health';
import { RateLimiterCounterStore } from './storage/redis/counter-store';
import { connectRedis, type RedisConnection } from './storage/redis/client';
import { RedisRevocationFeed } from './storage/redis/revocation-feed';
import { LocalRevocations, type RevocationFeed } from './domain/revocation';
import { loadOrCreateDevEncryptionKeys } from './storage/encryption-keys-file';
import { systemClock, type Clock } from './domain/clock';
import { findLaterCurrentKeys, findMissingEncryptionKeys, keyReplacedSince, SecretBox } from './domain/crypto';
import { openEmbedded, openPostgres, PostgresEncryptionKeyHistory, PostgresMfaStore, PostgresSigningKeyStore, readDefaultIsolation, readSchemaStatus, type CanonicalEmailsReport, type Database } from './storage/postgres';


/**
 * The embedded database is migrated here (development's zero configuration). PostgreSQL's
 * migrations are the operator's (`npm run db:migrate`, once per deployment): a database that
 * lacks some of this version's is refused, before a request can fail on a missing column; so is
 * one whose transactions would not run read committed (readDefaultIsolation).
 */
export async function prepareSchema(database: Database, logger: Logger) {
  if (database.kind === 'embedded') {
    const leftOver = describeLeftOverEmails((await database.migrate()).emails);
    if (leftOver) logger.warn(leftOver);
    return;
  }
  const isolation = await readDefaultIsolation(database.db);
  // PostgreSQL runs read uncommitted as read committed.
  if (isolation !== 'read committed' && isolation !== 'read uncommitted') {
    throw new StartupRefusal(
      `the database's default transaction isolation is "${isolation}", and the gateway needs "read committed" (PostgreSQL's default): reset default_transaction_isolation where it was set (ALTER DATABASE … RESET, ALTER ROLE … RESET, or postgresql.conf)`,
    );
  }
  const { pending, unrecognised } = await readSchemaStatus(database.db);
  if (pending.length > 0) {
    throw new StartupRefusal(
      `the database lacks ${pending.length} of this version's migrations (${pending.join(', ')}): run \`npm run db:migrate\` with this DATABASE_URL first`,
    );
  }
  if (unrecognised > 0) {
    logger.warn({ unrecognised }, 'the database holds migrations this version does not know: a newer version migrated it, or drizzle/ was edited since');
  }
}

/** What canonicalizeStoredEmails could not do, for the operator (ids only), or undefined. */
export function describeLeftOverEmails({ taken, invalid }: CanonicalEmailsReport) {
  const parts = [
    taken.length > 0 && `${taken.length} account(s) whose email in its canonical spelling belongs to another account (${taken.join(', ')})`,
    invalid.length > 0 && `${invalid.length} account(s) whose email is no longer a valid address (${invalid.join(', ')})`,
  ].filter(Boolean);
  if (parts.length === 0) return undefined;
  return `no login reaches ${parts.join(', and ')}: give each another address in SQL (UPDATE users SET email = … WHERE id = …) and run db:migrate again`;
}

/**
 * Refuses to start while a secret in use (a signing key not yet retired, a TOTP secret) is
 * sealed under a key id ENCRYPTION_KEYS lacks: its requests would fail with
 * INTERNAL_SERVER_ERROR (the users whose TOTP secret it is could not log in). Names the ids,
 * never a key.
 */
export async function requireEncryptionKeysInUse(database: Database, encryptionKeys: EncryptionKey[]) {
  const missing = await findMissingEncryptionKeys({
    signingKeys: new PostgresSigningKeyStore(database.db),
    mfa: new PostgresMfaStore(database.db),
    box: new SecretBox(encryptionKeys),
    clock: systemClock,
  });
  if (missing.length === 0) return;
  throw new StartupRefusal(
    `ENCRYPTION_KEYS lacks the key id(s) ${missing.map((id) => `"${id}"`).join(', ')} that stored secrets are sealed under: keep those keys in ENCRYPTION_KEYS (after the current one) until \`npm run admin -- reencrypt\` has re-sealed the secrets under the first (a key lost for good: \`npm run admin -- forget-encryption-key <id>\`)`,
  );
}

/**
 * Warns when the first ENCRYPTION_KEYS entry was replaced as the current key since it was current
 * (see findLaterCurrentKeys): what this instance seals, one without that key refuses to start
 * for (a pending MFA enrolment for its 15 minutes; a confirmed TOTP secret or a signing key
 * until `reencrypt` re-seals it). Never stops the start.
 */
export async function warnAboutEncryptionKeyOrder(database: Database, encryptionKeys: EncryptionKey[], logger: Logger) {
  const box = new SecretBox(encryptionKeys);
  let later;
  try {
    later = await findLaterCurrentKeys({ keyHistory: new PostgresEncryptionKeyHistory(database.db), box, clock: systemClock });
  } catch (error) {
    // A check, not a condition of serving (a read-only database, a role without the table's grants).
    logger.warn({ err: describeError(error) }, 'ENCRYPTION_KEYS order not checked: the database refused the check or did not answer');
    return;
  }
  if (later.length === 0) return;
  const current = box.currentKeyId;
  logger.warn(
    { keyId: current, laterKeyIds: later.map((k) => k.keyId), since: later[0]!.currentSince },
    `${keyReplacedSince(current, later)} (an instance started with it first, or reencrypt ran under it): an out-of-date ENCRYPTION_KEYS, or a rollout still under way? What this instance seals, an instance without "${current}" cannot open. If "${current}" is to be current again, run \`npm run admin -- reencrypt\` with this order`,
  );
}

export async function openConfiguredDatabase(config: Config, logger: Logger): Promise<Database> {
  if (config.databaseUrl) {
    try {
      return await openPostgres(config.databaseUrl, { max: config.databasePoolSize });
    } catch (error) {
      throw asUnreadableUrl(error, 'DATABASE_URL');
    }
  }
  const database = await openEmbedded(config.dataDir);
  logger.warn({ dataDir: config.dataDir }, 'using the embedded database (PGlite): for development only');
  return database;
}

/**
 * The database a command acts on, for the operator to see before trusting its answer: an
 * operator's shell without the deployment's settings runs in development, on the embedded
 * database, and one with another DATABASE_URL on that database. PostgreSQL's host, port and
 * database name only, never the user or the password.
 */
export function databaseTarget(config: Pick<Config, 'databaseUrl' | 'dataDir'>): string {
  if (!config.databaseUrl) return `the embedded database in ${path.resolve(config.dataDir)} (DATABASE_URL is unset: for development only)`;
  let url: URL;
  try {
    url = new URL(config.databaseUrl);
  } catch {
    return 'the PostgreSQL database of DATABASE_URL'; // several hosts, which postgres.js reads and URL does not
  }
  const decoded = (text: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      return text; // a malformed escape: shown as written
    }
  };
  const name = decoded(url.pathname.slice(1)) || decoded(url.username);
  const host = url.searchParams.get('host') ?? url.hostname;
  return `PostgreSQL database "${name}" at ${host}:${url.port || '5432'}`;
}

/**
 * The drivers parse their URL as they open; node's error for a malformed one carries the whole
 * URL (its `input`), password included. This one names the setting instead.
 */
function asUnreadableUrl(error: unknown, setting: string) {
  if (!(error instanceof URIError) && (error as { code?: unknown } | null)?.code !== 'ERR_INVALID_URL') return error;
  return new ConfigError(
    `${setting}: cannot be read as a URL (check the host and the port, and that special characters in the user name and password are percent-encoded)`,
  );
}

export function resolveEncryptionKeys(config: Config, logger: Logger): EncryptionKey[] {
  if (config.encryptionKeys) return config.encryptionKeys;
  // config.ts has already refused production without ENCRYPTION_KEYS.
  const { keys, created, file } = loadOrCreateDevEncryptionKeys(config.dataDir);
  logger.warn({ file, created }, 'ENCRYPTION_KEYS unset: using development keys from DATA_DIR');
  return keys;
}

export interface Counters {
  store: RateLimiterCounterStore;
  redis: RedisConnection | undefined;
  /** For /readyz: where the limits live right now. */
  mode(): RateLimitMode;
}

/**
 * A Redis Cluster node, or a database Redis refuses: said at start, not worked around. (A
 * Cluster node answers a plain client MOVED for most keys, and every limit would then be counted
 * in each instance's memory. Found later, the connection counts Redis as down and says why.)
 */
export async function refuseUnusableRedis(redis: RedisConnection | undefined) {
  const refusal = await redis?.refusal();
  if (refusal) throw new StartupRefusal(refusal);
}

/**
 * The database a redis:// URL names, as ioredis reads it: its path, else `?db=`, else 0
 * (undefined for one the URL parser cannot read, which ioredis's older parser may take).
 */
export function redisDatabaseOf(url: string) {
  if (!URL.canParse(url)) return undefined;
  const parsed = new URL(url);
  return Number(parsed.pathname.slice(1) || parsed.searchParams.get('db') || 0);
}

/** Where a redis:// URL points, without its credentials. */
const redisServerOf = (url: string) => (URL.canParse(url) ? new URL(url).host : undefined);

/** Rate-limit counters: in Redis when REDIS_URL is set, else in this process's memory. */
export function openCounters(config: Config, logger: Logger): Counters {
  const { prefix, onRedisFailure, loginEmailIp, loginIp, loginAccount, registerIp, refreshIp, mfaUser, mfaConsecutive } = config.rateLimit;
  // The back-offs are blocks with their own durations; their rules only have to exist.
  const gate = { points: 1, duration: 1 };
  const rules = { loginEmailIp, loginIp, loginAccount, registerIp, refreshIp, mfaUser, mfaConsecutive, accountBackoff: gate, mfaBackoff: gate };
  let redis: RedisConnection | undefined;
  try {
    redis = config.redisUrl ? connectRedis(config.redisUrl, logger) : undefined;
  } catch (error) {
    throw asUnreadableUrl(error, 'REDIS_URL');
  }
  if (!redis) {
    logger.warn('REDIS_URL unset: rate-limit counters live in this process\'s memory, for a single instance only');
  } else {
    // Instances (and the admin commands) share limits and revocations only when both match.
    logger.info({ server: redisServerOf(config.redisUrl!), database: redisDatabaseOf(config.redisUrl!), prefix }, 'rate-limit counters and revocations in Redis');
  }
  const failures = commandFailures(logger, onRedisFailure);
  return {
    store: new RateLimiterCounterStore({ prefix, rules, redis: redis?.client, redisAnswers: redis?.healthy, onRedisFailure, onCommandFailed: failures.failed }),
    redis,
    mode: () => {
      if (!redis) return 'memory';
      if (redis.healthy() && !failures.recent()) return 'redis';
      return onRedisFailure === 'insurance' ? 'memory-fallback' : 'redis-down';
    },
  };
}

/** How long a failed counter command keeps /readyz degraded, and the least time between its warnings. */
const COMMAND_FAILURE_WINDOW_MS = 60_000;

/**
 * A Redis that answers PING but fails the counters' commands (an ACL without them, OOM, a
 * cluster's MOVED, a timeout) leaves them to each instance's memory, or refuses the operations
 * ('closed', or a command not answered in time), while its connection looks well: said at most
 * once a minute, with the refusal's kind, and /readyz counts the limits as degraded until a
 * minute has passed without one.
 */
function commandFailures(logger: Logger, onRedisFailure: 'insurance' | 'closed') {
  // Each outcome has its own once a minute: a refusal does not hide a timeout, nor the reverse.
  const lastWarnedMs = new Map<boolean, number>();
  let lastFailedMs = -Infinity;
  const refused = onRedisFailure === 'insurance' ? 'the operation was refused (no answer in time: Redis may have counted it)' : 'the operation was refused (RATE_LIMIT_FAIL=closed)';
  return {
    failed(error: unknown, counted: boolean) {
      const now = performance.now();
      lastFailedMs = now;
      if (now - (lastWarnedMs.get(counted) ?? -Infinity) < COMMAND_FAILURE_WINDOW_MS) return;
      lastWarnedMs.set(counted, now);
      logger.warn({ err: describeError(error) }, `a rate-limit command to Redis failed: ${counted ? "counted in this instance's memory instead" : refused}`);
    },
    recent: () => performance.now() - lastFailedMs < COMMAND_FAILURE_WINDOW_MS,
  };
}

/** One start-up line on how client addresses (the rate-limit keys) are derived. */
export function describeClientIp(trustProxy: TrustProxy, setting = 'TRUST_PROXY') {
  if (trustProxy === false) return `client IP: the socket address (X-Forwarded-For ignored; set ${setting} behind a proxy)`;
  if (typeof trustProxy === 'number') {
    return `client IP: X-Forwarded-For, trusting the ${trustProxy} nearest hop(s) when the connection comes from a loopback or private address`;
  }
  return `client IP: X-Forwarded-For, trusting hops from ${trustProxy.join(', ')}`;
}

/** The revocation feed as start-up and shutdown see it. */
export interface OpenedRevocations extends RevocationFeed {
  started(): Promise<void>;
  /** Tries for up to `timeoutMs` to share what could not be yet; resolves with how many are left. */
  flush(timeoutMs: number): Promise<number>;
  /** Like flush(0), then stops listening (the Redis connection is the caller's to close). */
  close(): Promise<number>;
  /** How many others listen for revocations (gateways, subgraphs' feeds); undefined without Redis, or when it does not say. */
  otherListeners(): Promise<number | undefined>;
}

/**
 * The revocation feed: shared through Redis when there is one (under RATE_LIMIT_PREFIX, the
 * namespace of all the gateway's Redis keys), else this instance's memory. `clock`: the one the
 * revocations' lifetimes come from, which judges when they have expired.
 */
export function openRevocations(
  config: Config,
  redis: RedisConnection | undefined,
  logger: Logger,
  clock: Clock = systemClock,
): OpenedRevocations {
  if (!redis) {
    const local = new LocalRevocations();
    return {
      publish: (ids, until) => local.publish(ids, until),
      isRevoked: (id, now) => local.isRevoked(id, now),
      started: async () => {},
      flush: async () => 0,
      close: async () => 0,
      otherListeners: async () => undefined,
    };
  }
  return new RedisRevocationFeed(redis.client, config.rateLimit.prefix, logger, { clock });
}
