/**
 * The composition root: wires stores, keys and settings into the domain's dependencies. Used by
 * the server, the admin CLI and the tests, so all three run the same parts.
 */
import { rotationSettings, type Config } from './config';
import type { AuthDeps } from './domain/auth';
import { systemClock, type Clock } from './domain/clock';
import { SecretBox } from './domain/crypto';
import { PasswordHasher } from './domain/passwords';
import { catchUpRevocations, revokingSessionStore, type RevocationFeed } from './domain/revocation';
import { Throttle, type CounterStore } from './domain/throttle';
import { KeyRing, rotateSigningKeyIfDue, VerifiedTokenCache } from './domain/tokens';
import type { Logger } from 'pino';
import { describeError } from './describe-error';
import type { GatewayMetrics } from './http/metrics';
import { auditLog } from './logger';
import { PostgresMfaStore, PostgresSessionStore, PostgresSigningKeyStore, PostgresUserStore, type Database } from './storage/postgres';

/** The mfaToken of a login's second step lives at most this long. */
const MFA_CHALLENGE_TTL_SECONDS = 300;

export interface ComposeOptions {
  config: Config;
  database: Database;
  encryptionKeys: NonNullable<Config['encryptionKeys']>;
  counters: CounterStore;
  revocations: RevocationFeed;
  logger: Logger;
  clock?: Clock;
  /** Counts the audit events (METRICS_PORT). */
  metrics?: GatewayMetrics | undefined;
}

export async function compose({ config, database, encryptionKeys, counters, revocations, logger, clock = systemClock, metrics }: ComposeOptions): Promise<{ deps: AuthDeps; reloadKeys: () => Promise<void> }> {
  const box = new SecretBox(encryptionKeys);
  const signingKeys = new PostgresSigningKeyStore(database.db);
  const audit = metrics ? metrics.counting(auditLog(logger)) : auditLog(logger);
  const keys = await KeyRing.load(signingKeys, box, clock, config.jwt.alg, audit);
  const deps: AuthDeps = {
    clock,
    users: new PostgresUserStore(database.db),
    sessions: revokingSessionStore(new PostgresSessionStore(database.db), revocations),
    hasher: new PasswordHasher(config.argon2, config.passwordHashing),
    keys,
    verifiedTokens: new VerifiedTokenCache(config.accessTokenCacheSize),
    throttle: new Throttle(counters, config.rateLimit),
    revocations,
    mfa: new PostgresMfaStore(database.db),
    box,
    audit,
    settings: {
      jwt: config.jwt,
      refresh: config.refresh,
      passwordPolicy: config.passwordPolicy,
      mfa: {
        issuer: config.mfaIssuer,
        attemptsPerChallenge: config.rateLimit.mfaAttemptsPerChallenge,
        challengeTtl: MFA_CHALLENGE_TTL_SECONDS,
      },
    },
  };
  // Keys rotated by any instance or the admin CLI reach this one at its next reload.
  const reloadKeys = async () => {
    if (config.keys.rotationDays !== undefined) {
      // A failed rotation must not keep this instance from loading keys rotated elsewhere.
      await rotateSigningKeyIfDue({ signingKeys, box, clock, audit }, rotationSettings(config), config.keys.rotationDays).catch((error) =>
        logger.warn({ err: describeError(error) }, 'automatic key rotation failed; retried at the next reload'),
      );
    }
    deps.keys = await KeyRing.load(signingKeys, box, clock, config.jwt.alg, audit);
  };
  return { deps, reloadKeys };
}

/** Reloads the signing keys every `seconds` (rotations by other instances or the CLI arrive within that). */
export function startKeyReloader(reloadKeys: () => Promise<void>, seconds: number, logger: Logger) {
  const timer = setInterval(() => {
    reloadKeys().catch((error) => logger.warn({ err: describeError(error) }, 'signing keys not reloaded'));
  }, seconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}

/** How long the start-up waits for the first catch-up: REVOCATION_POLL_SECONDS, within 10–30 s. */
export const catchUpTimeoutMs = (config: Pick<Config, 'revocationPollSeconds'>) => Math.min(Math.max(config.revocationPollSeconds, 10), 30) * 1000;

/**
 * Catches up on sessions ended without this instance hearing of it (catchUpRevocations): now,
 * before the instance serves, and every REVOCATION_POLL_SECONDS. Resolves once the first run is
 * done, or has run `timeoutMs` (catchUpTimeoutMs) without finishing: a
 * database that hangs rather than fails does not hold the start-up. A failed or overdue run is
 * logged and made good by a later one; no run starts while one is still under way, so a hung
 * read never piles up more of itself on the pool.
 */
export async function startRevocationCatchUp(
  deps: AuthDeps,
  config: Config,
  logger: Logger,
  timeoutMs = catchUpTimeoutMs(config),
) {
  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    const work = catchUpRevocations(deps)
      .then(
        (published) => {
          if (published > 0) logger.info({ count: published }, 'revocations caught up from the database');
        },
        (error) => logger.warn({ err: describeError(error) }, 'revocations not caught up from the database; tried again at the next poll'),
      )
      .finally(() => (running = false));
    let overdue: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      work.then(() => true),
      new Promise<false>((resolve) => (overdue = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(overdue);
    if (!finished) {
      logger.warn(
        { seconds: timeoutMs / 1000 },
        'revocations not caught up from the database: the read is still unanswered; tried again at the first poll after it ends',
      );
    }
  };
  await run();
  const timer = setInterval(() => void run(), config.revocationPollSeconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
