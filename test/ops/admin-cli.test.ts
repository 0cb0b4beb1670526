// Rule: `npm run admin` commands, run as real processes on the server's database, do what they
// say (roles, disable/enable, sessions, prune, reencrypt) and fail with exit 1 or 2 and a message.
import { inArray, sql } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import type { Db } from '../../src/storage/postgres';
import { queryRows } from '../../src/storage/postgres/client';
import { refreshTokens, sessions } from '../../src/storage/postgres/schema';
import { LoginDocument, LogoutDocument, RefreshDocument, RegisterDocument, UsersDocument } from '../gql/graphql';
import { codeOf, PASSWORD, signUp, uniqueEmail } from '../helpers/fixtures';
import { withGatewayOn, type TestGateway } from '../helpers/gateway';
import { childEnv, createNamedDatabase, runTsx, type NamedDatabase, type RunResult } from '../helpers/processes';

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

/** The audit lines (JSON on stderr) of a run, with the user ids they name. */
const auditOf = (run: RunResult) =>
  run.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.audit === true);

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
    // revoked just now, live.
    await gw.gql(RegisterDocument, { email: emails.erin, password: PASSWORD });
    const logIn = async () => {
      const payload = (await gw.gql(LoginDocument, { email: emails.erin, password: PASSWORD })).data!.login;
      if (payload.__typename !== 'AuthPayload') throw new Error('expected an AuthPayload');
      return { sid: decodeJwt(payload.accessToken).sid as string, refreshToken: payload.refreshToken! };
    };
    gw.clock.advance(-40 * DAY);
    erinSessions.expired = (await logIn()).sid;
    gw.clock.advance(38 * DAY);
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
    const [noCommand, unknownCommand, missingArgument, unknownEmail] = await Promise.all([
      admin([]),
      admin(['frobnicate']),
      admin(['grant-role', emails.alice]),
      admin(['grant-role', unknown, 'admin']),
    ]);
    for (const run of [noCommand, unknownCommand, missingArgument]) {
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('Usage: npm run admin');
    }
    expect(unknownEmail.code).toBe(1);
    expect(unknownEmail.stderr).toContain(`No user with email ${unknown}`);
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
    expect(granted!.stdout).toContain(`${emails.alice}: roles admin, user`);
    expect(revoked!.stdout).toContain(`${emails.bob}: roles (none)`);
    expect(disabled!.stdout).toContain(`${emails.carol}: disabled, 1 session(s) ended`);
    expect(pruned!.stdout).toContain('pruned 2 session(s)');
    expect(reencrypted!.stdout).toContain('re-encrypted 1 secret(s) under key "new"');

    // One audit line per action, on stderr, naming the user by id (never the email).
    const by = 'admin-cli';
    expect(auditOf(granted!)).toEqual([
      expect.objectContaining({ level: 30, msg: 'roles changed', by, userId: userIds.alice, before: ['user'], roles: ['admin', 'user'] }),
    ]);
    expect(auditOf(revoked!)).toEqual([
      expect.objectContaining({ level: 30, msg: 'roles changed', by, userId: userIds.bob, before: ['user'], roles: [], endedSessions: 1 }),
    ]);
    expect(auditOf(disabled!)).toEqual([expect.objectContaining({ level: 30, msg: 'user disabled', by, userId: userIds.carol, endedSessions: 1 })]);
    expect(auditOf(reencrypted!)).toEqual([expect.objectContaining({ level: 30, msg: 'secrets reencrypted', by, count: 1, keyId: 'new' })]);
    expect(auditOf(pruned!)).toEqual([]);
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
    expect(auditOf(enabled!)).toEqual([expect.objectContaining({ level: 30, msg: 'user enabled', by: 'admin-cli', userId: userIds.carol })]);
    expect(auditOf(revoked!)).toEqual([
      expect.objectContaining({ level: 30, msg: 'sessions revoked', by: 'admin-cli', userId: userIds.dave, endedSessions: 2 }),
    ]);

    await withGateway(NEW, async (gw) => {
      const carol = await gw.gql(LoginDocument, { email: emails.carol, password: PASSWORD });
      expect(carol.data?.login.__typename).toBe('AuthPayload');
      expect(codeOf(await gw.gql(RefreshDocument, { refreshToken: tokens.dave }))).toBe('INVALID_TOKEN');
      expect(codeOf(await gw.gql(RefreshDocument, { refreshToken: tokens.dave2 }))).toBe('INVALID_TOKEN');
      // Someone else's sessions are untouched.
      expect((await gw.gql(RefreshDocument, { refreshToken: tokens.alice })).errors).toBeUndefined();
    });
  }, 120_000);
});
