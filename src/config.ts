/**
 * The only reader of process.env. Validated once at start-up into one typed object; an
 * invalid value stops the start with a message naming the setting. Defaults are the safe ones.
 */
import { z } from 'zod';
import type { EncryptionKey } from './domain/crypto/secret-box';

export type { EncryptionKey };
export type JwtAlg = 'ES256' | 'EdDSA' | 'RS256';
export type RefreshTransport = 'both' | 'cookie' | 'body';
export type PasswordPolicyName = 'composition' | 'nist';

export interface Config {
  production: boolean;
  /** NODE_ENV=development: the only mode whose logs carry unexpected errors in full. */
  development: boolean;
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  logLevel: string;
  jwt: { issuer: string; audience: string; alg: JwtAlg; accessTokenTtl: number };
  refresh: { idleTtl: number; maxTtl: number; reuseGraceSeconds: number; transport: RefreshTransport };
  argon2: { memoryKib: number; timeCost: number; parallelism: number };
  passwordPolicy: PasswordPolicyName;
  /** Undefined only in development: main.ts then generates or reads them from DATA_DIR. */
  encryptionKeys: EncryptionKey[] | undefined;
  corsOrigins: string[];
}

export class ConfigError extends Error {}

/** Every OWASP argon2id profile (m=47104,t=1 … m=7168,t=5) spends at least this much. */
export const MIN_ARGON2_MEMORY_TIME = 7168 * 5;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535).default(4000),
  HOST: z.string().min(1).optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATA_DIR: z.string().min(1).default('.data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  JWT_ISSUER: z.url().optional(),
  JWT_AUDIENCE: z.string().min(1).default('graphql'),
  JWT_ALG: z.enum(['ES256', 'EdDSA', 'RS256']).default('ES256'),
  ACCESS_TOKEN_TTL: int(30, 3600).default(900),
  REFRESH_TOKEN_IDLE_TTL: int(60, 31_536_000).default(1_209_600),
  REFRESH_TOKEN_MAX_TTL: int(60, 31_536_000).default(2_592_000),
  REFRESH_REUSE_GRACE_SECONDS: int(0, 60).default(10),
  REFRESH_TOKEN_TRANSPORT: z.enum(['both', 'cookie', 'body']).default('both'),
  // Defaults are OWASP's m=19456,t=2,p=1 profile; see also the memory × time floor below.
  ARGON2_MEMORY_KIB: int(7168, 4_194_304).default(19_456),
  ARGON2_TIME_COST: int(1, 20).default(2),
  ARGON2_PARALLELISM: int(1, 16).default(1),
  PASSWORD_POLICY: z.enum(['composition', 'nist']).default('composition'),
  ENCRYPTION_KEYS: z.string().min(1).optional(),
  CORS_ORIGINS: z.string().optional(),
});

export function parseEncryptionKeys(value: string, setting = 'ENCRYPTION_KEYS'): EncryptionKey[] {
  const keys = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const sep = entry.indexOf(':');
      const id = entry.slice(0, sep);
      const key = Buffer.from(entry.slice(sep + 1), 'base64');
      if (sep < 1 || !/^[A-Za-z0-9_-]{1,32}$/.test(id) || key.length !== 32) {
        throw new ConfigError(
          `${setting}: each entry must be id:base64 with a 32-byte key (id of letters, digits, _ or -)`,
        );
      }
      return { id, key };
    });
  if (keys.length === 0) throw new ConfigError(`${setting}: at least one key is required`);
  if (new Set(keys.map((k) => k.id)).size !== keys.length) {
    throw new ConfigError(`${setting}: key ids must be unique`);
  }
  return keys;
}

function parseOrigins(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((origin) => {
      let url: URL;
      try {
        url = new URL(origin);
      } catch {
        throw new ConfigError(`CORS_ORIGINS: "${origin}" is not an origin (scheme://host[:port])`);
      }
      if (url.origin !== origin.replace(/\/$/, '')) {
        throw new ConfigError(`CORS_ORIGINS: "${origin}" is not an origin (scheme://host[:port])`);
      }
      return url.origin;
    });
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings count as unset, as in most dotenv tooling.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${String(issue.path[0])}: ${issue.message}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  if (production && !e.DATABASE_URL) {
    throw new ConfigError(
      'DATABASE_URL is required when NODE_ENV=production (the embedded database is for development only)',
    );
  }
  if (production && !e.ENCRYPTION_KEYS) {
    throw new ConfigError('ENCRYPTION_KEYS is required when NODE_ENV=production');
  }
  if (e.ARGON2_MEMORY_KIB * e.ARGON2_TIME_COST < MIN_ARGON2_MEMORY_TIME) {
    throw new ConfigError(
      `ARGON2_MEMORY_KIB × ARGON2_TIME_COST must be at least ${MIN_ARGON2_MEMORY_TIME} (OWASP's weakest argon2id profile is m=7168, t=5)`,
    );
  }
  return {
    production,
    development: e.NODE_ENV === 'development',
    port: e.PORT,
    host: e.HOST ?? (production ? '0.0.0.0' : '127.0.0.1'),
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    logLevel: e.LOG_LEVEL,
    jwt: {
      issuer: e.JWT_ISSUER ?? `http://localhost:${e.PORT}`,
      audience: e.JWT_AUDIENCE,
      alg: e.JWT_ALG,
      accessTokenTtl: e.ACCESS_TOKEN_TTL,
    },
    refresh: {
      idleTtl: e.REFRESH_TOKEN_IDLE_TTL,
      maxTtl: e.REFRESH_TOKEN_MAX_TTL,
      reuseGraceSeconds: e.REFRESH_REUSE_GRACE_SECONDS,
      transport: e.REFRESH_TOKEN_TRANSPORT,
    },
    argon2: {
      memoryKib: e.ARGON2_MEMORY_KIB,
      timeCost: e.ARGON2_TIME_COST,
      parallelism: e.ARGON2_PARALLELISM,
    },
    passwordPolicy: e.PASSWORD_POLICY,
    encryptionKeys: e.ENCRYPTION_KEYS ? parseEncryptionKeys(e.ENCRYPTION_KEYS) : undefined,
    corsOrigins: parseOrigins(e.CORS_ORIGINS),
  };
}
