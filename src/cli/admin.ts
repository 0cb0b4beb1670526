/**
 * Operator commands: `npm run admin -- <command> [args]`, with the server's own settings.
 * On the embedded database, run them while the server is stopped: PGlite serves one process,
 * and a DATA_DIR in use is refused (see data-dir-lock.ts).
 */
import 'reflect-metadata';
import pino from 'pino';
import { databaseTarget, openConfiguredDatabase, prepareSchema, openCounters, openRevocations, redisDatabaseOf, refuseUnusableRedis, resolveEncryptionKeys } from '../bootstrap';
import { describeFailure, exitOnUnhandled, isExpectedFailure } from '../failure';
import { loadConfig, rotationSettings } from '../config';
import {
  CountersNotClearedError,
  disableUser,
  enableUser,
  forgetEncryptionKey,
  grantRole,
  prune,
  reencrypt,
  resetMfa,
  revokeRole,
  revokeUserSessions,
  unblockAccount,
  type ResealFailure,
} from '../domain/admin';
import { systemClock } from '../domain/clock';
import { keyReplacedSince, SecretBox } from '../domain/crypto';
import { revokingSessionStore } from '../domain/revocation';
import { Throttle } from '../domain/throttle';
import { describeKeys, retireSigningKey, rotateSigningKey } from '../domain/tokens';
import { auditLog, createLogger } from '../logger';
import { PostgresEncryptionKeyHistory, PostgresMfaStore, PostgresSessionStore, PostgresSigningKeyStore, PostgresUserStore } from '../storage/postgres';

const USAGE = `Usage: npm run admin -- <command>

  grant-role <email> <role>     add a role (takes effect at the user's next refresh)
  revoke-role <email> <role>    remove a role and end the user's sessions
  disable-user <email>          block login and refresh, end every session
  enable-user <email>           allow login again
  revoke-sessions <email>       end every session of the user
  unblock <email>               clear the account's login and MFA counters (Redis)
  reset-mfa <email>             remove the user's MFA (lost authenticator and recovery codes); ends the sessions, clears its MFA counters
  prune                         delete sessions expired or revoked over a day ago and their
                                tokens, live sessions' refresh tokens spent over
                                REFRESH_TOKEN_IDLE_TTL (at least a day) ago, and MFA
                                challenges expired over a day ago
  reencrypt                     re-encrypt every stored secret under the first ENCRYPTION_KEYS entry
  forget-encryption-key <id> [--yes]
                                give up what a lost key sealed (without --yes: only say what)
  keys list                     each signing key and its state (pending, signing, published, retiring, retired)
  keys rotate                   add a key: published within KEY_RELOAD_SECONDS, signing after KEY_PUBLISH_AHEAD
  keys retire <kid>             after a change of JWT_ALG: retire a key of the previous algorithm
                                once its tokens have expired
`;

const RESEAL_FAILURES: Record<ResealFailure, string> = {
  'unknown-key': 'no ENCRYPTION_KEYS entry has this id',
  'does-not-open': "the ENCRYPTION_KEYS entry with this id does not open it (another key under the same id, or a damaged ciphertext)",
};

const ARITY: Record<string, number> = {
  'grant-role': 2,
  'revoke-role': 2,
  'disable-user': 1,
  'enable-user': 1,
  'revoke-sessions': 1,
  unblock: 1,
  'reset-mfa': 1,
  prune: 0,
  reencrypt: 0,
  'forget-encryption-key': 1,
  keys: 1,
};

/** How long a command that ended sessions waits for Redis to announce them before it gives up. */
const ANNOUNCE_WAIT_MS = 3000;

/** Arguments a command may take beyond its arity. */
const FLAGS: Record<string, string[]> = { 'forget-encryption-key': ['--yes'] };

/**
 * A first ENCRYPTION_KEYS entry no gateway has started with first (nor reencrypt made current),
 * where gateways have started with others: most likely one the running instances do not hold yet
 * (README: add a key in two rollouts). A note, not a refusal. Said of none before any start.
 */
const neverCurrent = (keyId: string, sealed: string) =>
  `note: no gateway has yet started with "${keyId}" as its first ENCRYPTION_KEYS entry: ${sealed} is sealed under it, which instances without it cannot open (add a new key to every instance first, after the old one)`;

async function run(argv: string[]): Promise<number> {
  const [command, ...given] = argv;
  const flags = given.filter((arg) => command !== undefined && Object.hasOwn(FLAGS, command) && FLAGS[command]!.includes(arg));
  const args = given.filter((arg) => !flags.includes(arg));
  const keysArity: Record<string, number> = { list: 1, rotate: 1, retire: 2 };
  const badKeys = command === 'keys' && (!Object.hasOwn(keysArity, args[0] ?? '') || args.length !== keysArity[args[0]!]);
  const known = command !== undefined && Object.hasOwn(ARITY, command);
  if (!command || !known || (command !== 'keys' && args.length !== ARITY[command]) || badKeys) {
    const help = !command || command === 'help' || command === '--help';
    if (!help) process.stderr.write(`admin: ${known ? `wrong arguments for ${command}` : `unknown command "${command}"`}\n\n`);
    process.stderr.write(USAGE);
    return command === 'help' || command === '--help' ? 0 : 2;
  }
  const config = loadConfig();
  // Log lines go to stderr: stdout carries only the command's answer. The audit lines (one per
  // action done, marked by: admin-cli) are written at the configured level, the rest from warn.
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, pino.destination(2));
  const audit = auditLog(logger, { by: 'admin-cli' });
  const database = await openConfiguredDatabase(config, logger);
  // With REDIS_URL, sessions ended here are announced to the running gateways at once.
  // Quiet: the server's start-up warning about in-memory counters means nothing here. Closed:
  // a counter `unblock` could not clear fails the command instead of falling back to a memory
  // that ends with it.
  const counters = openCounters({ ...config, rateLimit: { ...config.rateLimit, onRedisFailure: 'closed' } }, createLogger('error', pino.destination(2)));
  if (counters.redis) await counters.redis.ready(5000);
  await refuseUnusableRedis(counters.redis);
  const revocations = openRevocations(config, counters.redis, logger);
  await revocations.started();
  try {
    await prepareSchema(database, logger);
    process.stderr.write(`admin: acting on ${databaseTarget(config)}\n`);
    const deps = {
      clock: systemClock,
      users: new PostgresUserStore(database.db),
      sessions: revokingSessionStore(new PostgresSessionStore(database.db), revocations),
      mfa: new PostgresMfaStore(database.db),
      revocations,
      audit,
    };
    const say = (line: string) => process.stdout.write(line + '\n');
    // The counters the running gateways share; without Redis each counts in its own memory.
    const sharedThrottle = () => (counters.redis ? new Throttle(counters.store, config.rateLimit) : null);
    // Set by what the running gateways are to hear of through Redis: sessions ended, counters cleared.
    let sharedThroughRedis = false;
    // Without Redis the running gateways hear of it only when they next read the database.
    const ended = (count: number) =>
      ((sharedThroughRedis ||= count > 0), `${count} session(s) ended`) +
      (counters.redis ? '' : ' (no REDIS_URL: running gateways refuse their access tokens once they next read the database, within their REVOCATION_POLL_SECONDS)');
    const [a, b] = args as [string, string];
    switch (command) {
      case 'grant-role':
      case 'revoke-role': {
        const { user, changed, endedSessions } = await (command === 'grant-role' ? grantRole : revokeRole)(deps, a, b);
        const roles = `roles ${user.roles.join(', ') || '(none)'}`;
        if (!changed) say(`${user.email}: ${roles} (unchanged: ${command === 'grant-role' ? 'already had' : 'did not have'} "${b}")`);
        else say(`${user.email}: ${roles}${endedSessions > 0 ? `, ${ended(endedSessions)}` : ''}`);
        break;
      }
      case 'disable-user':
        say(`${a}: disabled, ${ended((await disableUser(deps, a)).length)}`);
        break;
      case 'enable-user':
        await enableUser(deps, a);
        say(`${a}: enabled`);
        break;
      case 'revoke-sessions':
        say(`${a}: ${ended((await revokeUserSessions(deps, a)).length)}`);
        break;
      case 'unblock': {
        // Before anything is looked up: with Redis away, nothing would be cleared.
        if (counters.redis && !counters.redis.healthy()) throw new Error('Redis is not reachable');
        const unblocked = await unblockAccount({ ...deps, throttle: sharedThrottle() }, a);
        if (!unblocked) {
          say(`${a}: nothing to clear here: without REDIS_URL the counters live in the server's memory and end with it`);
          break;
        }
        sharedThroughRedis = true;
        say(`${a}: login and MFA counters cleared (${unblocked.clearedCounters} per-address counter(s))`);
        break;
      }
      case 'reset-mfa': {
        const { removed, countersCleared } = await resetMfa({ ...deps, throttle: sharedThrottle() }, a);
        const counted = countersCleared
          ? ', MFA counters cleared'
          : " (no REDIS_URL: its MFA counters live in each server's memory, until they expire or the server restarts)";
        say(removed ? `${a}: MFA removed (factor and recovery codes)${counted}, ${ended(removed.ended.length)}` : `${a}: no MFA to remove${counted}`);
        break;
      }
      case 'keys': {
        const signingKeys = new PostgresSigningKeyStore(database.db);
        if (a === 'rotate') {
          const box = new SecretBox(resolveEncryptionKeys(config, logger));
          const settings = rotationSettings(config);
          // The key the last rotation added, if it has not signed yet (those before it leave already).
          const pending = describeKeys(await signingKeys.list(), config.jwt.alg, systemClock.now()).find(
            (k) => k.state === 'pending' && k.alg === config.jwt.alg && k.retiresAt === null,
          );
          // A check, not a condition of rotating (a role without the table's rights, say).
          const keyHistory = new PostgresEncryptionKeyHistory(database.db);
          const [replaced, known] = await Promise.all([keyHistory.laterThan(box.currentKeyId), keyHistory.wasCurrent(box.currentKeyId)]).catch(
            (error: unknown) => {
              say(`note: ENCRYPTION_KEYS order not checked: ${describeFailure(error)}`);
              return [[] as Array<{ keyId: string; currentSince: Date }>, true] as const;
            },
          );
          if (known === false) say(neverCurrent(box.currentKeyId, 'the new signing key'));
          const key = await rotateSigningKey({ signingKeys, box, clock: systemClock, audit }, settings);
          if (replaced.length > 0) say(`note: ${keyReplacedSince(box.currentKeyId, replaced)}: ${key.kid} is sealed under "${box.currentKeyId}", which instances without it cannot open (an out-of-date ENCRYPTION_KEYS?)`);
          say(`added ${key.kid} (${key.alg}): running gateways publish it within KEY_RELOAD_SECONDS (${config.keys.reloadSeconds} s here); it signs from ${key.activatesAt.toISOString()}`);
          // Run again before that one signs (twice by mistake, say): it now signs only in between, if at all.
          if (pending) {
            say(
              pending.activatesAt < key.activatesAt
                ? `note: ${pending.kid}, added earlier and still pending, signs only from ${pending.activatesAt.toISOString()} until ${key.activatesAt.toISOString()}, when ${key.kid} takes over`
                : `note: ${pending.kid}, added earlier and still pending (from ${pending.activatesAt.toISOString()}), will not sign: ${key.kid} signs first, and ${pending.kid} leaves the key set by then`,
            );
          }
        }
        if (a === 'retire') {
          const settings = rotationSettings(config);
          const retired = await retireSigningKey({ signingKeys, clock: systemClock, audit }, settings, b);
          say(retired ? `${b} (${retired.key.alg}): leaves the key set at ${retired.retiresAt.toISOString()}` : `${b}: retiring or retired already (unchanged)`);
        }
        for (const k of describeKeys(await signingKeys.list(), config.jwt.alg, systemClock.now())) {
          say(`${k.kid}  ${k.alg}  ${k.state.padEnd(9)}  from ${k.activatesAt.toISOString()}  until ${k.retiresAt?.toISOString() ?? '-'}`);
        }
        break;
      }
      case 'prune': {
        const pruned = await prune({ ...deps, settings: { refresh: config.refresh } });
        say(`pruned ${pruned.sessions} session(s), ${pruned.spentTokens} spent refresh token(s) and ${pruned.mfaChallenges} MFA challenge(s)`);
        break;
      }
      case 'reencrypt': {
        const box = new SecretBox(resolveEncryptionKeys(config, logger));
        const keyHistory = new PostgresEncryptionKeyHistory(database.db);
        const replaced = await keyHistory.laterThan(box.currentKeyId);
        if (replaced.length > 0) say(`note: ${keyReplacedSince(box.currentKeyId, replaced)}: this makes "${box.currentKeyId}" the current key again`);
        if ((await keyHistory.wasCurrent(box.currentKeyId)) === false) say(neverCurrent(box.currentKeyId, 'every secret'));
        const report = await reencrypt({ signingKeys: new PostgresSigningKeyStore(database.db), mfa: deps.mfa, keyHistory, box, clock: systemClock, audit });
        say(`re-encrypted ${report.resealed} secret(s) under key "${box.currentKeyId}"`);
        if (report.retiredLeft > 0) say(`left ${report.retiredLeft} retired signing key(s) as they were: they are never opened again`);
        if (report.left === 0) break;
        say(`could not re-seal ${report.left} secret(s); keep their keys in ENCRYPTION_KEYS, and run reencrypt again once they are there:`);
        for (const { keyId, reason, count } of report.failed) say(`  ${count} under key "${keyId}": ${RESEAL_FAILURES[reason]}`);
        return 1;
      }
      case 'forget-encryption-key': {
        const apply = flags.includes('--yes');
        const box = new SecretBox(resolveEncryptionKeys(config, logger));
        const lost = await forgetEncryptionKey({ ...deps, signingKeys: new PostgresSigningKeyStore(database.db), box }, a, { apply, alg: config.jwt.alg });
        const emails = await Promise.all(lost.mfaUsers.map(async (id) => (await deps.users.findById(id))?.email ?? id));
        say(
          `key "${a}": ${apply ? 'given up' : 'seals'} ${lost.signingKeys.length} signing key(s) not yet retired, ` +
            `${lost.mfaUsers.length} user(s)' MFA, ${lost.pendingUsers.length} pending MFA enrolment(s)`,
        );
        if (lost.signingKeys.length > 0) say(`signing keys ${apply ? 'retired' : 'to retire'}: ${lost.signingKeys.join(', ')} (the tokens they signed are refused; clients refresh)`);
        if (lost.carriedOnBy) say(`signing key ${lost.carriedOnBy} ${apply ? 'signs' : 'to sign'} on in their place, no longer retiring: its ENCRYPTION_KEYS entry stays required (run keys rotate to replace it)`);
        if (emails.length > 0) say(`MFA ${apply ? 'removed' : 'to remove'}, sessions ${apply ? 'ended' : 'to end'}: ${emails.join(', ')} (they sign in with the password alone and can enrol again)`);
        if (lost.endedSessions > 0) say(ended(lost.endedSessions));
        if (!apply) say('nothing changed: run again with --yes to do it');
        break;
      }
    }
    // The CLI enforces nothing itself: sessions it ended reach the running gateways at once
    // through Redis, or when they next read the database. Their refresh tokens are refused
    // already (the database), their access tokens not yet.
    const unannounced = await revocations.flush(ANNOUNCE_WAIT_MS);
    if (unannounced > 0) {
      say(
        `not announced: Redis is unreachable, so running gateways refuse the access tokens of ${unannounced} ended ` +
          'session(s) only once they next read the database, within their REVOCATION_POLL_SECONDS (30 s unless set), ' +
          'and subgraphs once a gateway has shared them through Redis; their refresh tokens are already refused',
      );
      return 1;
    }
    // A Redis server or prefix other than the gateways' takes all this without complaint. (Not
    // another database of the same server: channels are the server's, so gateways there listen
    // here too; their start-up log names their database, to compare with this one.)
    if (sharedThroughRedis && (await revocations.otherListeners()) === 0) {
      say(
        `no gateway listens on this Redis server under RATE_LIMIT_PREFIX "${config.rateLimit.prefix}" (this command uses database ${redisDatabaseOf(config.redisUrl!) ?? '?'}): ` +
          'if gateways are running, they use another Redis or RATE_LIMIT_PREFIX than this command (or may not subscribe to its channel), ' +
          'and the counters it cleared and the sessions it announced were not theirs; ended sessions reach them when they next read the database',
      );
    }
    return 0;
  } finally {
    await revocations.close();
    await counters.redis?.close();
    await database.close();
  }
}


exitOnUnhandled((error) => process.stderr.write(`admin: crashed: ${describeFailure(error)}\n`));
run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // One line that names no setting's value (see describeFailure); for counters not cleared, why.
    const why = error instanceof CountersNotClearedError ? `: ${describeFailure(error.cause)}` : '';
    process.stderr.write(`admin: ${isExpectedFailure(error) ? '' : 'failed: '}${describeFailure(error)}${why}\n`);
    process.exit(1);
  },
);
