/**
 * The only reader of process.env. Validated once at start-up into one typed object; an
 * invalid value stops the start with a message naming the setting. Defaults are the safe ones.
 */
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { ENCRYPTION_KEY_ID, type EncryptionKey } from './domain/crypto';
import type { PasswordPolicy } from './domain/passwords';
import type { ThrottleLimits } from './domain/throttle';
import type { RotationSettings, SigningAlg } from './domain/tokens';
// From the file, not the index, which would bring the signing code into the settings.
import { JWKS_MAX_AGE_SECONDS, MAX_ACCESS_TOKEN_TTL } from './domain/tokens/verify-access-token';
import { defaultHashConcurrency } from './thread-pool';
import { DEFAULT_PASSWORD_HASH_NICE } from './thread-priority';
import { OperatorError } from './errors';
import { DEFAULT_KEY_PREFIX } from './storage/redis/key-prefix';

export type { EncryptionKey };
export type RefreshTransport = 'both' | 'cookie' | 'body';

/** false: the socket's address; a hop count or a list of trusted proxy addresses/CIDRs. */
export type TrustProxy = false | number | string[];

export interface Config {
  production: boolean;
  /** NODE_ENV=development: the only mode whose logs carry the stack frames of unexpected errors. */
  development: boolean;
  port: number;
  host: string;
  databaseUrl: string | undefined;
  /** Connections to PostgreSQL this process opens at most (DATABASE_URL only). */
  databasePoolSize: number;
  dataDir: string;
  logLevel: string;
  jwt: { issuer: string; audience: string; alg: SigningAlg; accessTokenTtl: number };
  /** rotationDays: automatic rotation; undefined means only by `keys rotate`. */
  keys: { publishAhead: number; reloadSeconds: number; rotationDays: number | undefined };
  /** How often each instance reads the sessions ended lately from the database (see catch-up-revocations). */
  revocationPollSeconds: number;
  /** The Federation 2 subgraph listener; undefined when SUBGRAPH_PORT is unset. */
  subgraph: { port: number; host: string; secret: string; trustProxy: TrustProxy } | undefined;
  /** The Prometheus listener; undefined when METRICS_PORT is unset. */
  metrics: { port: number; host: string } | undefined;
  /** maxSessionsPerUser: live sessions a user may have; a login beyond ends the least recently used. */
  refresh: { idleTtl: number; maxTtl: number; reuseGraceSeconds: number; transport: RefreshTransport; maxSessionsPerUser: number };
  argon2: { memoryKib: number; timeCost: number; parallelism: number };
  /**
   * argon2 operations at once, how many more may wait for a turn before new ones are refused,
   * and the nice value of the threads they run on (applied by the production launcher).
   */
  passwordHashing: { concurrency: number; queue: number; perClient: number; nice: number };
  /** Verified access tokens remembered (until their exp); 0 = verify every request. */
  accessTokenCacheSize: number;
  passwordPolicy: PasswordPolicy;
  mfaIssuer: string;
  /** Undefined only in development: main.ts then generates or reads them from DATA_DIR. */
  encryptionKeys: EncryptionKey[] | undefined;
  corsOrigins: string[];
  /** The GraphiQL playground on GET /graphql (browsers), its assets and /playground/schema.graphql. */
  playground: boolean;
  trustProxy: TrustProxy;
  redisUrl: string | undefined;
  singleInstance: boolean;
  rateLimit: ThrottleLimits & {
    prefix: string;
    onRedisFailure: 'insurance' | 'closed';
    mfaAttemptsPerChallenge: number;
  };
  graphqlLimits: { maxDepth: number; maxAliases: number; maxDirectives: number; maxTokens: number; maxCost: number };
}

export class ConfigError extends OperatorError {}

/** OWASP's argon2id profiles: the least memory (KiB) for each number of passes, 5 and more alike. */
const OWASP_ARGON2_MEMORY_BY_PASSES = [47_104, 19_456, 12_288, 9_216, 7_168] as const;
const minArgon2Memory = (passes: number) => OWASP_ARGON2_MEMORY_BY_PASSES[Math.min(passes, 5) - 1]!;

/**
 * A whole number written in decimal digits and nothing else: `z.coerce.number` read "   " as 0
 * and took `1e3`, `0x10` and `80.0`, while libuv reads UV_THREADPOOL_SIZE=1e3 as 1.
 */
const int = (min: number, max: number) => {
  const range = `from ${min} to ${max}`;
  return z
    .string()
    .regex(/^\d+$/, `must be a whole number written in decimal digits, ${range}`)
    .transform(Number)
    .pipe(z.number().min(min, `must be ${range}`).max(max, `must be ${range}`));
};

/** One of `values`, said so when it is none of them. */
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values, { error: `must be one of ${values.join(', ')}` });

/** Free text that must say something: a value of only spaces is a mistake, not a value. */
const text = () => z.string().regex(/\S/, 'must not be blank');

/**
 * The longest window a limit may have: in memory (no REDIS_URL) a window ends on a timer, and
 * Node's timers cannot wait longer (2^31 - 1 ms): a longer one would end at once.
 */
const MAX_LIMIT_WINDOW_SECONDS = 2_147_483;

/** `points/seconds`, e.g. 5/900. */
const limit = (fallback: string) =>
  z
    .string()
    .regex(/^\d{1,9}\/\d{1,9}$/, 'must be written points/seconds, e.g. 5/900')
    .default(fallback)
    .transform((v) => {
      const [points, duration] = v.split('/').map(Number) as [number, number];
      return { points, duration };
    })
    .refine((v) => v.points >= 1 && v.duration >= 1, 'points and seconds must be at least 1')
    .refine((v) => v.duration <= MAX_LIMIT_WINDOW_SECONDS, `seconds must be at most ${MAX_LIMIT_WINDOW_SECONDS} (about 24 days)`);

const schema = z.object({
  NODE_ENV: oneOf(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535).default(4000),
  HOST: text().optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATABASE_POOL_SIZE: int(1, 100).optional(),
  DATA_DIR: text().default('.data'),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Verifiers compare `iss` with this exactly, and discovery serves it as the issuer's URL.
  JWT_ISSUER: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  // Compared exactly by every verifier: a space at either end is a mistake no one would see.
  JWT_AUDIENCE: text().regex(/^\S(.*\S)?$/s, 'must not begin or end with a space').default('graphql'),
  JWT_ALG: oneOf(['ES256', 'EdDSA', 'RS256']).default('ES256'),
  ACCESS_TOKEN_TTL: int(30, MAX_ACCESS_TOKEN_TTL).default(900),
  // At least the JWKS cache lifetime, so verifiers have a new key before it signs (and, checked
  // below, the reload period on top: every instance publishes it first).
  KEY_PUBLISH_AHEAD: int(JWKS_MAX_AGE_SECONDS, 604_800).default(600),
  KEY_RELOAD_SECONDS: int(1, 3600).default(60),
  KEY_ROTATION_DAYS: int(1, 3650).optional(),
  REVOCATION_POLL_SECONDS: int(1, 3600).default(30),
  SUBGRAPH_PORT: int(0, 65_535).optional(),
  SUBGRAPH_HOST: text().optional(),
  METRICS_PORT: int(0, 65_535).optional(),
  METRICS_HOST: text().optional(),
  SUBGRAPH_SECRET: text().optional(),
  REFRESH_TOKEN_IDLE_TTL: int(60, 31_536_000).default(1_209_600),
  REFRESH_TOKEN_MAX_TTL: int(60, 31_536_000).default(2_592_000),
  REFRESH_REUSE_GRACE_SECONDS: int(0, 60).default(10),
  REFRESH_TOKEN_TRANSPORT: oneOf(['both', 'cookie', 'body']).default('both'),
  MAX_SESSIONS_PER_USER: int(1, 10_000).default(100),
  // Defaults are OWASP's m=19456,t=2,p=1 profile; see also the memory × time floor below.
  ARGON2_MEMORY_KIB: int(7168, 4_194_304).default(19_456),
  ARGON2_TIME_COST: int(1, 20).default(2),
  ARGON2_PARALLELISM: int(1, 16).default(1),
  PASSWORD_HASH_CONCURRENCY: int(1, 1023).optional(),
  PASSWORD_HASH_QUEUE: int(0, 10_000).optional(),
  PASSWORD_HASH_PER_CLIENT: int(1, 11_023).optional(),
  // Applied by the production launcher (launch.ts), which reads it before this check.
  PASSWORD_HASH_NICE: int(0, 19).default(DEFAULT_PASSWORD_HASH_NICE),
  // Node's own setting, read here only to check that password hashing leaves it a free thread:
  // one thread cannot both hash and serve the rest.
  UV_THREADPOOL_SIZE: int(2, 1024).default(4),
  ACCESS_TOKEN_CACHE_SIZE: int(0, 100_000).default(10_000),
  PASSWORD_POLICY: oneOf(['composition', 'nist']).default('composition'),
  // Key URI Format: the label is `issuer:account`, so an issuer with a colon is misread by apps.
  MFA_ISSUER: text().max(64).regex(/^[^:]*$/, 'must hold no colon (apps read the account from after the first one)').default('graphql-auth-gateway'),
  ENCRYPTION_KEYS: z.string().min(1).optional(),
  CORS_ORIGINS: z.string().optional(),
  // Unset: on in development and test, off in production.
  PLAYGROUND: oneOf(['on', 'off']).optional(),
  TRUST_PROXY: z.string().optional(),
  SUBGRAPH_TRUST_PROXY: z.string().optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
  SINGLE_INSTANCE: oneOf(['true', 'false']).default('false'),
  RATE_LIMIT_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_:.-]{1,64}$/, 'letters, digits and _ : . - only')
    .default(DEFAULT_KEY_PREFIX),
  RATE_LIMIT_FAIL: oneOf(['insurance', 'closed']).default('insurance'),
  LOGIN_LIMIT_EMAIL_IP: limit('5/900'),
  LOGIN_LIMIT_IP: limit('100/86400'),
  LOGIN_LIMIT_ACCOUNT: limit('50/86400'),
  REGISTER_LIMIT_IP: limit('10/3600'),
  REFRESH_LIMIT_IP: limit('600/60'),
  MFA_LIMIT_USER: limit('10/900'),
  MFA_LIMIT_CONSECUTIVE: limit('100/1209600'),
  MFA_ATTEMPTS_PER_CHALLENGE: int(1, 100).default(5),
  GRAPHQL_MAX_DEPTH: int(1, 1000).default(12),
  GRAPHQL_MAX_ALIASES: int(0, 1000).default(15),
  GRAPHQL_MAX_DIRECTIVES: int(0, 1000).default(50),
  GRAPHQL_MAX_TOKENS: int(10, 1_000_000).default(1000),
  GRAPHQL_MAX_COST: int(1, 10_000_000).default(5000),
});

/** A shared secret between the router and the subgraph listener; 32 characters is 192 bits of base64. */
const MIN_SUBGRAPH_SECRET_LENGTH = 32;

/** Half of the hashing places (running and waiting), at least one: no client can take them all. */
function defaultHashPlacesPerClient(places: number) {
  return Math.max(1, Math.ceil(places / 2));
}

/**
 * Two connections per core, at most ten (postgres.js's own default). A Node process runs its
 * JavaScript on one thread and postgres.js pipelines queries on a connection, so more would
 * only have more Postgres backends compete for the same cores: on 2 cores, in alternating runs
 * outside the committed benchmark, two or four connections rotated 7–60% more refresh tokens a
 * second than ten.
 */
export function defaultDatabasePoolSize(cores = availableParallelism()) {
  return Math.min(10, 2 * cores);
}

/** Every setting's name (the environment variables this gateway reads). */
export const SETTING_NAMES = Object.keys(schema.shape);

/** Names of other programs' that share a first word with a setting. */
const OTHERS = new Set(['NODE_OPTIONS', 'NODE_PATH', 'NODE_EXTRA_CA_CERTS', 'NODE_NO_WARNINGS', 'NODE_DEBUG', 'NODE_TLS_REJECT_UNAUTHORIZED', 'NODE_V8_COVERAGE', 'NODE_PENDING_DEPRECATION', 'NODE_REDIRECT_WARNINGS', 'NODE_ICU_DATA', 'NODE_UNIQUE_ID', 'NODE_CHANNEL_FD', 'NODE_CHANNEL_SERIALIZATION_MODE', 'NODE_COMPILE_CACHE', 'NODE_DISABLE_COLORS', 'NODE_REPL_HISTORY', 'NODE_PRESERVE_SYMLINKS', 'NODE_SKIP_PLATFORM_CHECK', 'NODE_TEST_CONTEXT', 'UV_USE_IO_URING']);

/**
 * Environment names that share their first word with a setting's (JWT_, REFRESH_, ARGON2_…) but
 * are no setting: most likely misspelt ones (JWT_ISUER, REFRESH_TOKEN_TRANSPRT), which leave their
 * setting at its default. Names of one word (PORT, HOST) and Node's own are no such sign.
 */
export function unknownSettings(env: Record<string, string | undefined>) {
  const known = new Set(SETTING_NAMES);
  const words = new Set(SETTING_NAMES.filter((name) => name.includes('_')).map((name) => name.split('_')[0]!));
  return Object.keys(env)
    .filter((name) => name.includes('_') && words.has(name.split('_')[0]!) && !known.has(name) && !OTHERS.has(name) && !name.startsWith('npm_'))
    .sort();
}

export function parseEncryptionKeys(value: string, setting = 'ENCRYPTION_KEYS'): EncryptionKey[] {
  const keys = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const sep = entry.indexOf(':');
      const id = entry.slice(0, sep);
      const encoded = entry.slice(sep + 1);
      const key = Buffer.from(encoded, 'base64');
      // Buffer skips what is not base64: a mistyped key would silently be another one.
      if (sep < 1 || !ENCRYPTION_KEY_ID.test(id) || !/^[A-Za-z0-9+/_-]{43}=?$/.test(encoded) || key.length !== 32) {
        throw new ConfigError(
          `${setting}: each entry must be id:base64 with a 32-byte key (id of letters, digits, _ or -)`,
        );
      }
      // A key whose bytes are all one value (32 zero bytes, a placeholder) is no secret.
      if (key.every((byte) => byte === key[0])) {
        throw new ConfigError(`${setting}: key "${id}" is not random (all its bytes are equal): generate one as the README says`);
      }
      return { id, key };
    });
  if (keys.length === 0) throw new ConfigError(`${setting}: at least one key is required`);
  if (new Set(keys.map((k) => k.id)).size !== keys.length) {
    throw new ConfigError(`${setting}: key ids must be unique`);
  }
  if (new Set(keys.map((k) => k.key.toString('hex'))).size !== keys.length) {
    throw new ConfigError(`${setting}: the same key is listed under two ids`);
  }
  return keys;
}

function parseTrustProxy(value: string | undefined, setting = 'TRUST_PROXY'): TrustProxy {
  if (!value) return false;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops < 1 || hops > 32) throw new ConfigError(`${setting}: a hop count must be between 1 and 32`);
    return hops;
  }
  const entries = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  // " " or "," is a list of nothing: most likely a value lost on its way, not a choice.
  if (entries.length === 0) throw new ConfigError(`${setting}: lists no hop count, address or CIDR (leave it unset to trust no proxy)`);
  for (const entry of entries) {
    if (!isIpOrCidr(entry)) {
      throw new ConfigError(`${setting}: "${entry}" is neither a hop count nor an IP address or CIDR`);
    }
    // Wider than any private network (10.0.0.0/8, fc00::/7): it would trust clients on the internet.
    const [address, bits] = entry.split('/');
    if (bits !== undefined && Number(bits) < (isIP(address!) === 4 ? 8 : 7)) {
      throw new ConfigError(`${setting}: "${entry}" is wider than any private network: name your proxies' addresses or networks`);
    }
  }
  return entries;
}

function isIpOrCidr(entry: string) {
  const [address, bits, extra] = entry.split('/');
  if (extra !== undefined || !address || isIP(address) === 0) return false;
  if (bits === undefined) return true;
  const max = isIP(address) === 4 ? 32 : 128;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= max;
}

const LOOPBACK_HOSTS = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

/**
 * Verifiers compare `iss` with JWT_ISSUER exactly and fetch the keys from below it, so it must be
 * written as URL parsers write it (lowercase scheme and host, no default port), and hold no
 * credentials, query or fragment. In production, https: over http, anyone on the way to a
 * verifier could hand it keys of their own (only a loopback host is taken over http).
 */
function checkIssuer(value: string | undefined, production: boolean) {
  if (value === undefined) return;
  const url = new URL(value);
  if (url.username || url.password) throw new ConfigError('JWT_ISSUER: must hold no user or password (it is in every token)');
  if (url.search || url.hash || value.includes('?') || value.includes('#')) {
    throw new ConfigError('JWT_ISSUER: must have no query or fragment (verifiers append /.well-known/… to it)');
  }
  if (!/^[a-z0-9.-]+$|^\[[0-9a-f:.]+\]$/.test(url.hostname)) throw new ConfigError(`JWT_ISSUER: "${url.hostname}" is no host name`);
  const written = `${url.protocol}//${url.host}`;
  if (!value.startsWith(written) || !['', '/'].includes(value.slice(written.length, written.length + 1))) {
    throw new ConfigError(`JWT_ISSUER: write it as URL parsers do, ${written}…: verifiers compare it exactly`);
  }
  if (production && url.protocol === 'http:' && !LOOPBACK_HOSTS.test(url.hostname)) {
    throw new ConfigError(
      'JWT_ISSUER: production needs an https:// URL: verifiers fetch the signing keys from it, and over http anyone on the way could hand them keys of their own',
    );
  }
}

function parseOrigins(value: string | undefined): string[] {
  if (!value) return [];
  const origins = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (origins.length === 0) throw new ConfigError('CORS_ORIGINS: lists no origin (leave it unset for no cross-origin access)');
  return origins.map((origin) => {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new ConfigError(`CORS_ORIGINS: "${origin}" is not an origin (scheme://host[:port])`);
    }
    if (url.origin === 'null' || url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
      throw new ConfigError(`CORS_ORIGINS: "${origin}" is not an origin (scheme://host[:port])`);
    }
    // Browsers send an origin as URL parsers write it: another spelling would never match.
    if (url.origin !== origin.replace(/\/$/, '')) {
      throw new ConfigError(`CORS_ORIGINS: write "${origin}" as browsers send it, ${url.origin}`);
    }
    return url.origin;
  });
}

/** Two listeners on one port: the second would fail only after the first said it is ready. */
function checkListenersApart(e: { PORT: number; METRICS_PORT?: number | undefined; SUBGRAPH_PORT?: number | undefined }) {
  const ports = [['PORT', e.PORT], ['METRICS_PORT', e.METRICS_PORT], ['SUBGRAPH_PORT', e.SUBGRAPH_PORT]] as const;
  const set = ports.filter(([, port]) => port !== undefined && port !== 0);
  for (const [i, [name, port]] of set.entries()) {
    const other = set.slice(i + 1).find(([, p]) => p === port);
    if (other) throw new ConfigError(`${other[0]}: ${port} is ${name} already (each listener needs a port of its own)`);
  }
}

/** The id of the key `npm start` generates into DATA_DIR when ENCRYPTION_KEYS is unset. */
export const DEVELOPMENT_KEY_ID = 'dev1';

/**
 * Production seals no new secret under the development key: it was generated for a development
 * checkout and kept in a file there. It may stay after a production key, to open what it sealed
 * until `reencrypt` has re-sealed that.
 */
function productionKeys(keys: EncryptionKey[], production: boolean) {
  if (production && keys[0]!.id === DEVELOPMENT_KEY_ID) {
    throw new ConfigError(
      `ENCRYPTION_KEYS: the current (first) key is "${DEVELOPMENT_KEY_ID}", the id of the development key \`npm start\` generates into DATA_DIR: put a key generated for production first (${GENERATE_KEY_COMMAND}), keep "${DEVELOPMENT_KEY_ID}" after it and run \`npm run admin -- reencrypt\``,
    );
  }
  return keys;
}

const GENERATE_KEY_COMMAND = `node -e "console.log('k1:'+require('crypto').randomBytes(32).toString('base64'))"`;

/** The settings signing-key rotation reads (the gateway's own and the admin CLI's). */
export const rotationSettings = (config: Pick<Config, 'jwt' | 'keys'>): RotationSettings => ({
  alg: config.jwt.alg,
  publishAhead: config.keys.publishAhead,
  accessTokenTtl: config.jwt.accessTokenTtl,
  reloadSeconds: config.keys.reloadSeconds,
});

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings count as unset, as in most dotenv tooling.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    // Every setting that is wrong, at once (the first issue of each): one restart to learn them.
    const bySetting = new Map<string, string>();
    for (const issue of parsed.error.issues) {
      const setting = String(issue.path[0]);
      if (!bySetting.has(setting)) bySetting.set(setting, `${setting}: ${issue.message}`);
    }
    throw new ConfigError([...bySetting.values()].join('; '));
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  // All of production's requirements at once: one restart to learn them, not three.
  const missing = production
    ? [
        !e.DATABASE_URL && 'DATABASE_URL (the embedded database is for development only)',
        !e.ENCRYPTION_KEYS && `ENCRYPTION_KEYS (generate a key with: ${GENERATE_KEY_COMMAND})`,
        // As Keycloak's production mode requires its hostname: the development default names
        // localhost, which no verifier elsewhere can reach, and differs between instances by port.
        !e.JWT_ISSUER && "JWT_ISSUER (the gateway's public URL, the same for every instance: verifiers fetch the keys from it)",
        !e.REDIS_URL && e.SINGLE_INSTANCE !== 'true' && "REDIS_URL (or set SINGLE_INSTANCE=true to keep limits in one instance's memory)",
      ].filter((entry) => entry !== false)
    : [];
  if (missing.length > 0) throw new ConfigError(`NODE_ENV=production requires ${missing.join('; ')}`);
  checkIssuer(e.JWT_ISSUER, production);
  checkListenersApart(e);
  if (e.SUBGRAPH_PORT !== undefined && (e.SUBGRAPH_SECRET ?? '').length < MIN_SUBGRAPH_SECRET_LENGTH) {
    throw new ConfigError(
      `SUBGRAPH_SECRET of at least ${MIN_SUBGRAPH_SECRET_LENGTH} characters is required when SUBGRAPH_PORT is set (only the router may reach the subgraph listener)`,
    );
  }
  // A header value arrives trimmed and as visible ASCII: any other secret could never match.
  if (e.SUBGRAPH_SECRET !== undefined && !/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(e.SUBGRAPH_SECRET)) {
    throw new ConfigError('SUBGRAPH_SECRET: only visible ASCII characters, no space at either end (an HTTP header carries it)');
  }
  if (e.SUBGRAPH_SECRET !== undefined && new Set(e.SUBGRAPH_SECRET).size === 1) {
    throw new ConfigError('SUBGRAPH_SECRET: is not random (one character repeated): generate one as the README says');
  }
  if (e.KEY_PUBLISH_AHEAD < e.KEY_RELOAD_SECONDS + JWKS_MAX_AGE_SECONDS) {
    throw new ConfigError(
      `KEY_PUBLISH_AHEAD must be at least KEY_RELOAD_SECONDS + ${JWKS_MAX_AGE_SECONDS} s: every instance publishes a new key within KEY_RELOAD_SECONDS, and verifiers may cache the key set ${JWKS_MAX_AGE_SECONDS} s, before it signs`,
    );
  }
  if (e.KEY_ROTATION_DAYS !== undefined && e.KEY_ROTATION_DAYS * 86_400 <= e.KEY_PUBLISH_AHEAD + e.ACCESS_TOKEN_TTL + 60) {
    throw new ConfigError('KEY_ROTATION_DAYS must be longer than KEY_PUBLISH_AHEAD + ACCESS_TOKEN_TTL + 60 s (a key must sign before the next one is added)');
  }
  if (e.ARGON2_MEMORY_KIB < minArgon2Memory(e.ARGON2_TIME_COST)) {
    throw new ConfigError(
      `ARGON2_MEMORY_KIB must be at least ${minArgon2Memory(e.ARGON2_TIME_COST)} with ARGON2_TIME_COST=${e.ARGON2_TIME_COST} (OWASP's argon2id profiles: m=47104 t=1, m=19456 t=2, m=12288 t=3, m=9216 t=4, m=7168 t=5)`,
    );
  }
  const hashConcurrency = e.PASSWORD_HASH_CONCURRENCY ?? defaultHashConcurrency(e.UV_THREADPOOL_SIZE);
  const hashQueue = e.PASSWORD_HASH_QUEUE ?? 4 * hashConcurrency;
  if (hashConcurrency >= e.UV_THREADPOOL_SIZE) {
    throw new ConfigError(
      `PASSWORD_HASH_CONCURRENCY must be below UV_THREADPOOL_SIZE (${e.UV_THREADPOOL_SIZE}): argon2 runs on libuv's thread pool, and the rest of the gateway needs a thread there too`,
    );
  }
  // Checked even while SUBGRAPH_PORT is unset: a malformed value is a mistake either way.
  const subgraphTrustProxy = parseTrustProxy(e.SUBGRAPH_TRUST_PROXY, 'SUBGRAPH_TRUST_PROXY');
  const host = e.HOST ?? (production ? '0.0.0.0' : '127.0.0.1');
  return {
    production,
    development: e.NODE_ENV === 'development',
    port: e.PORT,
    host,
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE ?? defaultDatabasePoolSize(),
    dataDir: e.DATA_DIR,
    logLevel: e.LOG_LEVEL,
    jwt: {
      issuer: e.JWT_ISSUER ?? `http://localhost:${e.PORT}`,
      audience: e.JWT_AUDIENCE,
      alg: e.JWT_ALG,
      accessTokenTtl: e.ACCESS_TOKEN_TTL,
    },
    keys: { publishAhead: e.KEY_PUBLISH_AHEAD, reloadSeconds: e.KEY_RELOAD_SECONDS, rotationDays: e.KEY_ROTATION_DAYS },
    revocationPollSeconds: e.REVOCATION_POLL_SECONDS,
    // Loopback unless opened: the listener asks for no credentials.
    metrics: e.METRICS_PORT === undefined ? undefined : { port: e.METRICS_PORT, host: e.METRICS_HOST ?? '127.0.0.1' },
    subgraph:
      e.SUBGRAPH_PORT === undefined
        ? undefined
        : { port: e.SUBGRAPH_PORT, host: e.SUBGRAPH_HOST ?? host, secret: e.SUBGRAPH_SECRET!, trustProxy: subgraphTrustProxy },
    refresh: {
      idleTtl: e.REFRESH_TOKEN_IDLE_TTL,
      maxTtl: e.REFRESH_TOKEN_MAX_TTL,
      reuseGraceSeconds: e.REFRESH_REUSE_GRACE_SECONDS,
      transport: e.REFRESH_TOKEN_TRANSPORT,
      maxSessionsPerUser: e.MAX_SESSIONS_PER_USER,
    },
    argon2: {
      memoryKib: e.ARGON2_MEMORY_KIB,
      timeCost: e.ARGON2_TIME_COST,
      parallelism: e.ARGON2_PARALLELISM,
    },
    passwordHashing: {
      concurrency: hashConcurrency,
      queue: hashQueue,
      perClient: e.PASSWORD_HASH_PER_CLIENT ?? defaultHashPlacesPerClient(hashConcurrency + hashQueue),
      nice: e.PASSWORD_HASH_NICE,
    },
    accessTokenCacheSize: e.ACCESS_TOKEN_CACHE_SIZE,
    passwordPolicy: e.PASSWORD_POLICY,
    mfaIssuer: e.MFA_ISSUER,
    encryptionKeys: e.ENCRYPTION_KEYS ? productionKeys(parseEncryptionKeys(e.ENCRYPTION_KEYS), production) : undefined,
    corsOrigins: parseOrigins(e.CORS_ORIGINS),
    playground: e.PLAYGROUND ? e.PLAYGROUND === 'on' : !production,
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    redisUrl: e.REDIS_URL,
    singleInstance: e.SINGLE_INSTANCE === 'true',
    rateLimit: {
      prefix: e.RATE_LIMIT_PREFIX,
      onRedisFailure: e.RATE_LIMIT_FAIL,
      loginEmailIp: e.LOGIN_LIMIT_EMAIL_IP,
      loginIp: e.LOGIN_LIMIT_IP,
      loginAccount: e.LOGIN_LIMIT_ACCOUNT,
      registerIp: e.REGISTER_LIMIT_IP,
      refreshIp: e.REFRESH_LIMIT_IP,
      mfaUser: e.MFA_LIMIT_USER,
      mfaConsecutive: e.MFA_LIMIT_CONSECUTIVE,
      mfaAttemptsPerChallenge: e.MFA_ATTEMPTS_PER_CHALLENGE,
    },
    graphqlLimits: {
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxAliases: e.GRAPHQL_MAX_ALIASES,
      maxDirectives: e.GRAPHQL_MAX_DIRECTIVES,
      maxTokens: e.GRAPHQL_MAX_TOKENS,
      maxCost: e.GRAPHQL_MAX_COST,
    },
  };
}
