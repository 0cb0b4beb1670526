// Rule: `npm run admin` commands, run as real processes on the server's database, do what they
// say (roles, disable/enable, sessions, reset-mfa, prune, reencrypt) and fail with exit 1 or 2
// and a message; one that ended sessions it could not announce (Redis unreachable) says so and
// exits 1.
import { randomBytes } from 'node:crypto';
import { eq, inArray, sql } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisDatabaseOf } from '../../src/bootstrap';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import type { Db } from '../../src/storage/postgres';
import { queryRows } from '../../src/storage/postgres/client';
import { refreshTokens, sessions } from '../../src/storage/postgres/schema';
import { EnrollMfaDocument, LoginDocument, LogoutDocument, MeDocument, RefreshDocument, RegisterDocument, UsersDocument } from '../gql/graphql';
import { codeOf, PASSWORD, signUp, uniqueEmail } from '../helpers/fixtures';
import { startGateway, withGatewayOn, type TestGateway } from '../helpers/gateway';
import { enableMfa } from '../helpers/mfa';
import { auditLinesOf, childEnv, createNamedDatabase, freePort, runTsx, type NamedDatabase, type RunResult } from '../helpers/processes';

const OLD = generateEncryptionKeyEntry('old');
const NEW = generateEncryptionKeyEntry('new');
const DAY = 86_400;

let named: NamedDatabase;
afterAll(() => named?.drop());

/** A gateway phase on the database (closed again before any child runs). */
const withGateway = <T>(encryptionKeys: string, body: (gw: TestGateway, db: Db) => Promise<T>) => withGatewayOn(named, encryptionKeys, body);

const admin = (args: string[], keys = OLD) =>
  runTsx('src/cli/admin.ts', args, childEnv({ ...named.env, ENCRYPTION_KEYS: keys }));

/** Concurrently on Postgres; one after another on PGlite (single process). */
async function adminAll(runs: Array<[string[], string?]>): Promise<RunResult[]> {
  if (named.kind === 'postgres') return Promise.all(runs.map(([args, keys]) => admin(args, keys)));
  const results: RunResult[] = [];
  for (const [args, keys] of runs) results.push(await admin(args, keys));
  return results;
}

const userIds: Record<string, string> = {};

const encryptionKeyIds = async (db: Db) =>
  (await queryRows<{ id: string }>(db, sql`SELECT DISTINCT encryption_key_id AS id FROM signing_keys`)).map((r) => r.id);

const emails = {
  alice: uniqueEmail('alice'),
  bob: uniqueEmail('bob'),
  carol: uniqueEmail('carol'),
  dave: uniqueEmail('dave'),
  erin: uniqueEmail('erin'),
};
const tokens: Record<string, string> = {};
const erinSessions: Record<'expired' | 'longRevoked' | 'recentlyRevoked' | 'live', string> = {
  expired: '',
  longRevoked: '',
  recentlyRevoked: '',
  live: '',
};

beforeAll(async () => {
  named = await createNamedDatabase({ migrated: true });
  await withGateway(OLD, async (gw, db) => {
    for (const who of ['alice', 'bob', 'carol', 'dave'] as const) {
      const user = await signUp(gw, emails[who]);
      tokens[who] = user.refreshToken!;
      userIds[who] = user.user.id;
    }
    const second = (await gw.gql(LoginDocument, { email: emails.dave, password: PASSWORD })).data!.login;
    if (second.__typename !== 'AuthPayload') throw new Error('expected an AuthPayload');
    tokens.dave2 = second.refreshToken!;

    // erin's sessions, placed in time for prune: expired long ago, revoked two days ago,
    // revoked just now, live; and one refreshed 20 and 8 days ago, whose first token, spent
    // over REFRESH_TOKEN_IDLE_TTL (14 days) ago, goes while the session lives on.
    await gw.gql(RegisterDocument, { email: emails.erin, password: PASSWORD });
    const logIn = async () => {
      const payload = (await gw.gql(LoginDocument, { email: emails.erin, password: PASSWORD })).data!.login;
      if (payload.__typename !== 'AuthPayload') throw new Error('expected an AuthPayload');
      return { sid: decodeJwt(payload.accessToken).sid as string, refreshToken: payload.refreshToken! };
    };
    gw.clock.advance(-40 * DAY);
    erinSessions.expired = (await logIn()).sid;
    gw.clock.advance(20 * DAY);
    const refreshed = await logIn();
    const next = (await gw.gql(RefreshDocument, { refreshToken: refreshed.refreshToken })).data!.refresh.refreshToken!;
    gw.clock.advance(12 * DAY);
    expect((await gw.gql(RefreshDocument, { refreshToken: next })).errors).toBeUndefined();
    gw.clock.advance(6 * DAY);
    const old = await logIn();
    await gw.gql(LogoutDocument, { refreshToken: old.refreshToken });
    erinSessions.longRevoked = old.sid;
    gw.clock.advance(2 * DAY);
    const recent = await logIn();
    await gw.gql(LogoutDocument, { refreshToken: recent.refreshToken });
    erinSessions.recentlyRevoked = recent.sid;
    const live = await logIn();
    erinSessions.live = live.sid;
    tokens.erin = live.refreshToken;

    expect(await encryptionKeyIds(db)).toEqual(['old']);
  });
}, 120_000);

describe('admin commands', () => {
  it('refuses bad usage with exit 2 and an unknown email with exit 1, naming it', async () => {
    const unknown = uniqueEmail('nobody');
    const [noCommand, unknownCommand, missingArgument, unknownEmail, inherited, extraArgument, help, dashHelp] = await Promise.all([
      admin([]),
      admin(['frobnicate']),
      admin(['grant-role', emails.alice]),
      admin(['grant-role', unknown, 'admin']),
      admin(['constructor', 'x']),
      admin(['disable-user', emails.alice, emails.bob]),
      admin(['help']),
      admin(['--help']),
    ]);
    // One argument too many is refused too: the second email is not silently left alone.
    expect(extraArgument!.code).toBe(2);
    expect(extraArgument!.stderr).toMatch(/^admin: wrong arguments for disable-user\n\nUsage: npm run admin/);
    for (const run of [help, dashHelp]) {
      expect(run!.code).toBe(0);
      expect(run!.stderr).toMatch(/^Usage: npm run admin/);
    }
    for (const run of [noCommand, unknownCommand, missingArgument]) {
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('Usage: npm run admin');
    }
    expect(noCommand!.stderr).toMatch(/^Usage: npm run admin/);
    expect(unknownCommand!.stderr).toMatch(/^admin: unknown command "frobnicate"\n\nUsage: npm run admin/);
    // A name every object has is no command either.
    expect(inherited!.code).toBe(2);
    expect(inherited!.stderr).toMatch(/^admin: unknown command "constructor"\n\nUsage: npm run admin/);
    expect(missingArgument!.stderr).toMatch(/^admin: wrong arguments for grant-role\n\nUsage: npm run admin/);
    expect(unknownEmail.code).toBe(1);
    expect(unknownEmail.stderr).toContain(`No user with email ${unknown}`);
  }, 60_000);

  it('says when grant-role or revoke-role changes nothing (exit 0, no audit line), and refuses a malformed role (exit 1)', async () => {
    const [held, absent, malformed] = await adminAll([
      [['grant-role', emails.dave, 'user']],
      [['revoke-role', emails.dave, 'nosuchrole']],
      [['revoke-role', emails.dave, 'BAD!']],
    ]);
    expect(held!.code, held!.stderr).toBe(0);
    expect(held!.stdout).toBe(`${emails.dave}: roles user (unchanged: already had "user")\n`);
    expect(absent!.code, absent!.stderr).toBe(0);
    expect(absent!.stdout).toBe(`${emails.dave}: roles user (unchanged: did not have "nosuchrole")\n`);
    for (const run of [held, absent]) expect(auditLinesOf(run!)).toEqual([]);
    expect(malformed!.code).toBe(1);
    expect(malformed!.stderr).toContain('admin: Roles are lowercase');
  }, 60_000);

  it('grant-role, revoke-role, disable-user, prune and reencrypt take effect', async () => {
    const [granted, revoked, disabled, pruned, reencrypted] = await adminAll([
      [['grant-role', emails.alice.toUpperCase(), 'admin']],
      [['revoke-role', emails.bob, 'user']],
      [['disable-user', emails.carol]],
      [['prune']],
      [['reencrypt'], `${NEW},${OLD}`],
    ]);
    for (const run of [granted, revoked, disabled, pruned, reencrypted]) expect(run.code, run.stderr).toBe(0);
    expect(granted!.stdout).toBe(`${emails.alice}: roles admin, user\n`);
    // Each says on stderr which database it acted on: host and name, never the credentials.
    const target =
      named.kind === 'postgres'
        ? `admin: acting on PostgreSQL database "${named.name}" at ${new URL(named.env.DATABASE_URL!).hostname}:${new URL(named.env.DATABASE_URL!).port || '5432'}\n`
        : `admin: acting on the embedded database in ${named.env.DATA_DIR} (DATABASE_URL is unset: for development only)\n`;
    for (const run of [granted, revoked, disabled, pruned, reencrypted]) {
      expect(run!.stderr).toContain(target);
      const password = named.env.DATABASE_URL && new URL(named.env.DATABASE_URL).password;
      if (password) expect(run!.stderr).not.toContain(password);
    }
    // No REDIS_URL here (each gateway then polls the database for revocations).
    const polled = ' (no REDIS_URL: running gateways refuse their access tokens once they next read the database, within their REVOCATION_POLL_SECONDS)';
    expect(revoked!.stdout).toBe(`${emails.bob}: roles (none), 1 session(s) ended${polled}\n`);
    expect(disabled!.stdout).toBe(`${emails.carol}: disabled, 1 session(s) ended${polled}\n`);
    expect(pruned!.stdout).toBe('pruned 2 session(s), 1 spent refresh token(s) and 0 MFA challenge(s)\n');
    expect(reencrypted!.stdout).toBe('re-encrypted 1 secret(s) under key "new"\n');

    // One audit line per action, on stderr, naming the user by id (never the email).
    const by = 'admin-cli';
    expect(auditLinesOf(granted!)).toEqual([
      expect.objectContaining({ level: 30, msg: 'roles changed', by, userId: userIds.alice, before: ['user'], roles: ['admin', 'user'] }),
    ]);
    expect(auditLinesOf(revoked!)).toEqual([
      expect.objectContaining({ level: 30, msg: 'roles changed', by, userId: userIds.bob, before: ['user'], roles: [], endedSessions: 1 }),
    ]);
    expect(auditLinesOf(disabled!)).toEqual([expect.objectContaining({ level: 30, msg: 'user disabled', by, userId: userIds.carol, endedSessions: 1 })]);
    expect(auditLinesOf(reencrypted!)).toEqual([expect.objectContaining({ level: 30, msg: 'secrets reencrypted', by, count: 1, keyId: 'new', left: 0 })]);
    expect(auditLinesOf(pruned!)).toEqual([]);
    for (const run of [granted, revoked, disabled]) expect(run!.stderr).not.toContain('@');

    // Only the new key from here on: the gateway starts only if reencrypt re-sealed its signing key.
    await withGateway(NEW, async (gw, db) => {
      expect(await encryptionKeyIds(db)).toEqual(['new']);

      const alice = await gw.gql(RefreshDocument, { refreshToken: tokens.alice });
      expect(alice.data?.refresh.user.roles).toEqual(['admin', 'user']);
      tokens.alice = alice.data!.refresh.refreshToken!;
      const users = await gw.gql(UsersDocument, {}, { token: alice.data!.refresh.accessToken });
      expect(users.errors).toBeUndefined();

      expect(codeOf(await gw.gql(RefreshDocument, { refreshToken: tokens.bob }))).toBe('INVALID_TOKEN');

      expect(codeOf(await gw.gql(LoginDocument, { email: emails.carol, password: PASSWORD }))).toBe(
        'INVALID_CREDENTIALS',
      );
      expect(codeOf(await gw.gql(RefreshDocument, { refreshToken: tokens.carol }))).toBe('INVALID_TOKEN');

      const ids = Object.values(erinSessions);
      const left = await db.select({ id: sessions.id }).from(sessions).where(inArray(sessions.id, ids));
      expect(left.map((r) => r.id).sort()).toEqual([erinSessions.recentlyRevoked, erinSessions.live].sort());
      const orphans = await db
        .select({ id: refreshTokens.id })
        .from(refreshTokens)
        .where(inArray(refreshTokens.sessionId, [erinSessions.expired, erinSessions.longRevoked]));
      expect(orphans).toEqual([]);
      expect((await gw.gql(RefreshDocument, { refreshToken: tokens.erin })).errors).toBeUndefined();
    });
  }, 120_000);

  it('enable-user lets the user log in again; revoke-sessions ends every session', async () => {
    const [enabled, revoked] = await adminAll([[['enable-user', emails.carol]], [['revoke-sessions', emails.dave]]]);
    expect(enabled!.code, enabled!.stderr).toBe(0);
    expect(enabled!.stdout).toContain(`${emails.carol}: enabled`);
    expect(revoked!.code, revoked!.stderr).toBe(0);
    expect(revoked!.stdout).toContain(`${emails.dave}: 2 session(s) ended`);
    expect(auditLinesOf(enabled!)).toEqual([expect.objectContaining({ level: 30, msg: 'user enabled', by: 'admin-cli', userId: userIds.carol })]);
    expect(auditLinesOf(revoked!)).toEqual([
      expect.objectContaining({ level: 30, msg: 'sessions revoked', by: 'admin-cli', userId: userIds.dave, endedSessions: 2 }),
    ]);

    await withGateway(NEW, async (gw, db) => {
      // Each ending says why: carol's by disable-user (the test before), dave's by revoke-sessions.
      const reasonsOf = async (userId: string) =>
        [...new Set((await db.select({ reason: sessions.revokedReason }).from(sessions).where(eq(sessions.userId, userId))).map((r) => r.reason))];
      expect(await reasonsOf(userIds.carol!)).toEqual(['user_disabled']);
      expect(await reasonsOf(userIds.dave!)).toEqual(['admin']);
      const carol = await gw.gql(LoginDocument, { email: emails.carol, password: PASSWORD });
      expect(carol.data?.login.__typename).toBe('AuthPayload');
      expect(codeOf(await gw.gql(RefreshDocument, { refreshToken: tokens.dave }))).toBe('INVALID_TOKEN');
      expect(codeOf(await gw.gql(RefreshDocument, { refreshToken: tokens.dave2 }))).toBe('INVALID_TOKEN');
      // Someone else's sessions are untouched.
      expect((await gw.gql(RefreshDocument, { refreshToken: tokens.alice })).errors).toBeUndefined();
    });
  }, 120_000);

  it('reset-mfa removes a lost MFA and ends the sessions; a pending enrolment goes without them; no MFA, nothing', async () => {
    // Both keys, whichever seals the data by now: this test needs none of the earlier ones.
    const keys = `${NEW},${OLD}`;
    const people = { frank: uniqueEmail('frank'), grace: uniqueEmail('grace'), heidi: uniqueEmail('heidi') };
    const before: Record<string, { id: string; refreshToken: string; accessToken: string }> = {};
    await withGateway(keys, async (gw) => {
      for (const [who, email] of Object.entries(people)) {
        const { user, refreshToken, accessToken } = await signUp(gw, email);
        before[who] = { id: user.id, refreshToken: refreshToken!, accessToken };
      }
      await enableMfa(gw, before.frank!.accessToken, PASSWORD);
      expect((await gw.gql(EnrollMfaDocument, { password: PASSWORD }, { token: before.grace!.accessToken })).errors).toBeUndefined();
    });

    const [frank, grace, heidi] = await adminAll([[['reset-mfa', people.frank], keys], [['reset-mfa', people.grace], keys], [['reset-mfa', people.heidi], keys]]);
    for (const run of [frank, grace, heidi]) expect(run!.code, run!.stderr).toBe(0);
    // No REDIS_URL here: the MFA counters live in each server's memory.
    const inMemory = " (no REDIS_URL: its MFA counters live in each server's memory, until they expire or the server restarts)";
    expect(frank!.stdout).toContain(`${people.frank}: MFA removed (factor and recovery codes)${inMemory}, 1 session(s) ended`);
    expect(grace!.stdout).toContain(`${people.grace}: MFA removed (factor and recovery codes)${inMemory}, 0 session(s) ended`);
    expect(heidi!.stdout.trim()).toBe(`${people.heidi}: no MFA to remove${inMemory}`);
    const by = 'admin-cli';
    expect(auditLinesOf(frank!)).toEqual([
      expect.objectContaining({ level: 30, msg: 'mfa reset', by, userId: before.frank!.id, reason: 'admin', wasOn: true, endedSessions: 1 }),
    ]);
    expect(auditLinesOf(grace!)).toEqual([
      expect.objectContaining({ level: 30, msg: 'mfa reset', by, userId: before.grace!.id, reason: 'admin', wasOn: false, endedSessions: 0 }),
    ]);
    expect(auditLinesOf(heidi!)).toEqual([]);

    await withGateway(keys, async (gw) => {
      // frank signs in with the password alone; the session from before the reset is over.
      const login = await gw.gql(LoginDocument, { email: people.frank, password: PASSWORD });
      expect(login.data?.login.__typename).toBe('AuthPayload');
      if (login.data?.login.__typename !== 'AuthPayload') return;
      expect((await gw.gql(MeDocument, {}, { token: login.data.login.accessToken })).data?.me.mfaEnabled).toBe(false);
      expect(codeOf(await gw.gql(RefreshDocument, { refreshToken: before.frank!.refreshToken }))).toBe('INVALID_TOKEN');
      const [ended] = await gw.database.db.select({ reason: sessions.revokedReason }).from(sessions).where(eq(sessions.userId, before.frank!.id));
      expect(ended?.reason).toBe('mfa_changed');
      // grace's pending enrolment is gone (a new one starts afresh); her session lives on, as does heidi's.
      expect((await gw.gql(RefreshDocument, { refreshToken: before.grace!.refreshToken })).errors).toBeUndefined();
      expect(await gw.deps.mfa.getFactor(before.grace!.id)).toBeNull();
      expect((await gw.gql(RefreshDocument, { refreshToken: before.heidi!.refreshToken })).errors).toBeUndefined();
    });
  }, 120_000);

  it('unblock without REDIS_URL says there is nothing to clear here (each server counts in its own memory), and audits nothing', async () => {
    const run = await admin(['unblock', emails.alice], `${NEW},${OLD}`);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(`${emails.alice}: nothing to clear here: without REDIS_URL the counters live in the server's memory and end with it\n`);
    expect(auditLinesOf(run)).toEqual([]);
  }, 60_000);

  it('names the Redis database as ioredis reads it from REDIS_URL: its path, else ?db=, else 0', () => {
    expect(['redis://:pw@h:6379/3', 'rediss://h:6380/2', 'redis://h', 'redis://h/', 'redis://h?db=4', 'redis://[::1]:6379/5'].map(redisDatabaseOf)).toEqual([3, 2, 0, 0, 4, 5]);
  });

  it.skipIf(!process.env.REDIS_URL)(
    'says when no gateway listens where it announced or cleared: another Redis database or RATE_LIMIT_PREFIX than theirs',
    async () => {
      const email = uniqueEmail('judy');
      await withGateway(NEW, (gw) => signUp(gw, email));
      const prefix = `nobody-${randomBytes(6).toString('hex')}`;
      const env = childEnv({ ...named.env, ENCRYPTION_KEYS: NEW, REDIS_URL: process.env.REDIS_URL!, RATE_LIMIT_PREFIX: prefix });
      const database = redisDatabaseOf(process.env.REDIS_URL!);
      const unheard = `no gateway listens on this Redis server under RATE_LIMIT_PREFIX "${prefix}" (this command uses database ${database})`;
      const [revoked, unblocked, granted] = [
        await runTsx('src/cli/admin.ts', ['revoke-sessions', email], env),
        await runTsx('src/cli/admin.ts', ['unblock', email], env),
        // Nothing that goes through Redis: nothing to say.
        await runTsx('src/cli/admin.ts', ['grant-role', email, 'editor'], env),
      ];
      for (const run of [revoked, unblocked]) {
        expect(run.code, run.stderr).toBe(0);
        expect(run.stdout).toContain(unheard);
      }
      expect(granted.stdout).not.toContain('no gateway listens');
      // A gateway listening there (PostgreSQL: PGlite serves one process at a time): nothing said.
      if (named.kind !== 'postgres') return;
      const opened = await named.open();
      const gw = await startGateway({ database: opened, encryptionKeys: NEW, env: { RATE_LIMIT_PREFIX: prefix } });
      try {
        // Its start-up log names what to compare.
        expect(gw.logs.map((line) => JSON.parse(line) as { msg: string })).toContainEqual(
          expect.objectContaining({ msg: 'rate-limit counters and revocations in Redis', server: new URL(process.env.REDIS_URL!).host, database, prefix }),
        );
        await signUp(gw, uniqueEmail('judy-again')).then(({ email: again }) => runTsx('src/cli/admin.ts', ['revoke-sessions', again], env)).then((heard) => {
          expect(heard.code, heard.stderr).toBe(0);
          expect(heard.stdout).toMatch(/1 session\(s\) ended/);
          expect(heard.stdout).not.toContain('no gateway listens');
        });
      } finally {
        await gw.close();
        await opened.close();
      }
    },
    120_000,
  );

  it('with Redis unreachable, a command that ended sessions says they were not announced and exits 1', async () => {
    const email = uniqueEmail('ivan');
    const { refreshToken, accessToken } = await withGateway(NEW, async (gw) => await signUp(gw, email));
    // Nothing listens there: every connection attempt is refused.
    const env = childEnv({ ...named.env, ENCRYPTION_KEYS: NEW, REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    const [revoked, granted] = await Promise.all([
      runTsx('src/cli/admin.ts', ['revoke-sessions', email], env),
      // Ends no session: nothing to announce, nothing to report.
      named.kind === 'postgres' ? runTsx('src/cli/admin.ts', ['grant-role', emails.alice, 'editor'], env) : undefined,
    ]);
    expect(revoked.code, revoked.stderr).toBe(1);
    expect(revoked.stdout).toBe(
      `${email}: 1 session(s) ended\n` +
        'not announced: Redis is unreachable, so running gateways refuse the access tokens of 1 ended session(s) only once ' +
        'they next read the database, within their REVOCATION_POLL_SECONDS (30 s unless set), and subgraphs once a gateway has shared them ' +
        'through Redis; their refresh tokens are already refused\n',
    );
    expect(auditLinesOf(revoked)).toEqual([expect.objectContaining({ msg: 'sessions revoked', endedSessions: 1 })]);
    if (granted) {
      expect(granted.code, granted.stderr).toBe(0);
      expect(granted.stdout).toContain(`${emails.alice}: roles admin, editor, user`);
    }

    await withGateway(NEW, async (gw) => {
      expect(codeOf(await gw.gql(RefreshDocument, { refreshToken }))).toBe('INVALID_TOKEN');
      // Its set in Redis never heard of it: the database told it, before its first request.
      expect(codeOf(await gw.gql(MeDocument, {}, { token: accessToken! }))).toBe('UNAUTHENTICATED');
    });
  }, 120_000);
});
