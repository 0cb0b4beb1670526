// Rule: @Authorized("admin") answers UNAUTHENTICATED without a viewer and FORBIDDEN without the role; setUserRoles validates its input, adds roles at the target's next refresh and revokes the target's sessions when it removes one.
import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginDocument, MeDocument, RefreshDocument, RegisterDocument, SetUserRolesDocument, UsersDocument } from '../gql/graphql';
import { codeOf, PASSWORD, signUp, uniqueEmail } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { cancelWaitingStatement, holdingRowLock, waitingBackend } from '../helpers/row-locks';
import { sessions, users } from '../../src/storage/postgres/schema';
import { disableUser, grantRole } from '../../src/domain/admin';

let gw: TestGateway;
let admin: Awaited<ReturnType<typeof signUp>>;
let plain: Awaited<ReturnType<typeof signUp>>;

async function login(email: string) {
  const result = await gw.gql(LoginDocument, { email, password: PASSWORD });
  if (result.data?.login.__typename !== 'AuthPayload') throw new Error('expected AuthPayload');
  return result.data.login;
}

const rolesInDb = async (id: string) =>
  (await gw.database.db.select({ roles: users.roles }).from(users).where(eq(users.id, id)))[0]?.roles;

beforeAll(async () => {
  gw = await startGateway();
  const first = await signUp(gw, uniqueEmail('admin'));
  // Operators grant admin out of band (the admin CLI); the role reaches tokens at the next login.
  await gw.database.db.update(users).set({ roles: ['admin', 'user'] }).where(eq(users.id, first.user.id));
  admin = { ...first, ...(await login(first.email)) };
  plain = await signUp(gw, uniqueEmail('plain'));
});
afterAll(() => gw.close());

describe('users (admin only)', () => {
  it('answers an anonymous caller UNAUTHENTICATED, not FORBIDDEN', async () => {
    const result = await gw.gql(UsersDocument, {});
    expect(result.status).toBe(200);
    expect(codeOf(result)).toBe('UNAUTHENTICATED');
  });

  it('answers a plain user FORBIDDEN, saying where', async () => {
    const result = await gw.gql(UsersDocument, {}, { token: plain.accessToken });
    expect(result.status).toBe(200);
    expect(codeOf(result)).toBe('FORBIDDEN');
    expect(result.data).toBeNull();
    expect(result.errors![0]!.path).toEqual(['users']);
    expect((result.errors![0] as { locations?: unknown }).locations).toEqual([expect.objectContaining({ line: expect.any(Number), column: expect.any(Number) })]);
  });

  it('gives an admin the list', async () => {
    expect(decodeJwt(admin.accessToken).roles).toEqual(['admin', 'user']);
    const result = await gw.gql(UsersDocument, {}, { token: admin.accessToken });
    expect(result.errors).toBeUndefined();
    const ids = result.data!.users.map((u) => u.id);
    expect(ids).toEqual(expect.arrayContaining([admin.user.id, plain.user.id]));
    expect(result.data!.users.find((u) => u.id === plain.user.id)).toMatchObject({ email: plain.email, roles: ['user'] });
  });

  it('pages with limit and offset in a stable order: oldest account first', async () => {
    const registered: string[] = [];
    // Six: their random ids fall in registration order once in 720.
    for (let i = 0; i < 6; i++) {
      registered.push(uniqueEmail('page'));
      await gw.gql(RegisterDocument, { email: registered[i]!, password: PASSWORD });
    }
    const listed = (await gw.gql(UsersDocument, { limit: 100 }, { token: admin.accessToken })).data!.users;
    expect(listed.map((u) => u.email).filter((email) => registered.includes(email))).toEqual(registered);
    const all = listed.map((u) => u.id);
    expect(all.length).toBeGreaterThanOrEqual(5);
    const pages: string[] = [];
    for (let offset = 0; offset < all.length; offset += 2) {
      const page = await gw.gql(UsersDocument, { limit: 2, offset }, { token: admin.accessToken });
      expect(page.errors).toBeUndefined();
      expect(page.data!.users.length).toBeLessThanOrEqual(2);
      pages.push(...page.data!.users.map((u) => u.id));
    }
    expect(pages).toEqual(all);
    const beyond = await gw.gql(UsersDocument, { limit: 2, offset: all.length }, { token: admin.accessToken });
    expect(beyond.data?.users).toEqual([]);
  });

  it('lists 50 when no limit is given, or null', async () => {
    // Accounts enough for more than one default page (written directly: no password is checked here).
    const now = Date.now();
    const rows = Array.from({ length: 51 }, (_, i) => ({ id: randomUUID(), email: uniqueEmail(`bulk${i}`), passwordHash: 'unused', createdAt: new Date(now + i) }));
    await gw.database.db.insert(users).values(rows);
    for (const variables of [{}, { limit: null, offset: null }]) {
      const result = await gw.gql(UsersDocument, variables, { token: admin.accessToken });
      expect(result.errors).toBeUndefined();
      expect(result.data!.users, JSON.stringify(variables)).toHaveLength(50);
    }
  });

  it('refuses limit 0, limit 101 and a negative offset with BAD_USER_INPUT', async () => {
    for (const variables of [{ limit: 0 }, { limit: 101 }, { offset: -1 }]) {
      const result = await gw.gql(UsersDocument, variables, { token: admin.accessToken });
      expect(codeOf(result)).toBe('BAD_USER_INPUT');
    }
  });
});

describe('setUserRoles', () => {
  it('adds a role that reaches the target only at their next refresh, without ending sessions', async () => {
    const target = await signUp(gw, uniqueEmail('promoted'));
    const roles = ['user', 'admin'];
    const set = await gw.gql(SetUserRolesDocument, { userId: target.user.id, roles }, { token: admin.accessToken });
    expect(set.errors).toBeUndefined();
    expect(set.data?.setUserRoles).toEqual({ id: target.user.id, roles: ['admin', 'user'] });

    // The access token in hand still carries the old roles.
    expect(codeOf(await gw.gql(UsersDocument, {}, { token: target.accessToken }))).toBe('FORBIDDEN');

    const refreshed = await gw.gql(RefreshDocument, { refreshToken: target.refreshToken });
    expect(refreshed.errors).toBeUndefined();
    const claims = decodeJwt(refreshed.data!.refresh.accessToken);
    expect(claims).toMatchObject({ roles: ['admin', 'user'], scope: 'admin user' });
    const list = await gw.gql(UsersDocument, {}, { token: refreshed.data!.refresh.accessToken });
    expect(list.errors).toBeUndefined();
  });

  it("removing a role revokes every session of the target, and only the target's", async () => {
    const target = await signUp(gw, uniqueEmail('demoted'));
    await gw.gql(SetUserRolesDocument, { userId: target.user.id, roles: ['user', 'editor'] }, { token: admin.accessToken });
    const second = await login(target.email);
    expect(decodeJwt(second.accessToken).roles).toEqual(['editor', 'user']);

    const set = await gw.gql(SetUserRolesDocument, { userId: target.user.id, roles: ['user'] }, { token: admin.accessToken });
    expect(set.data?.setUserRoles.roles).toEqual(['user']);
    for (const refreshToken of [target.refreshToken, second.refreshToken]) {
      expect(codeOf(await gw.gql(RefreshDocument, { refreshToken }))).toBe('INVALID_TOKEN');
    }
    const bystander = await gw.gql(RefreshDocument, { refreshToken: plain.refreshToken });
    expect(bystander.errors).toBeUndefined();
    plain = { ...plain, refreshToken: bystander.data!.refresh.refreshToken };

    // A fresh login carries the reduced roles.
    expect(decodeJwt((await login(target.email)).accessToken).roles).toEqual(['user']);
  });

  it('counts a role swapped for another as one removed: the sessions end (roles_removed), the old token with them', async () => {
    const target = await signUp(gw, uniqueEmail('swapped'));
    await gw.database.db.update(users).set({ roles: ['admin', 'user'] }).where(eq(users.id, target.user.id));
    const session = await login(target.email);
    const set = await gw.gql(SetUserRolesDocument, { userId: target.user.id, roles: ['auditor', 'user'] }, { token: admin.accessToken });
    expect(set.data?.setUserRoles.roles).toEqual(['auditor', 'user']);
    expect(codeOf(await gw.gql(UsersDocument, {}, { token: session.accessToken }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await gw.gql(RefreshDocument, { refreshToken: session.refreshToken! }))).toBe('INVALID_TOKEN');
    const [row] = await gw.database.db.select({ reason: sessions.revokedReason }).from(sessions).where(eq(sessions.id, decodeJwt(session.accessToken).sid as string));
    expect(row?.reason).toBe('roles_removed');
  });

  it('lets an admin take away their own admin role, as Keycloak does: their sessions end, the token that asked included', async () => {
    const self = await signUp(gw, uniqueEmail('self-demoted'));
    await gw.database.db.update(users).set({ roles: ['admin', 'user'] }).where(eq(users.id, self.user.id));
    const session = await login(self.email);
    const set = await gw.gql(SetUserRolesDocument, { userId: self.user.id, roles: ['user'] }, { token: session.accessToken });
    expect(set.data?.setUserRoles).toEqual({ id: self.user.id, roles: ['user'] });
    expect(codeOf(await gw.gql(UsersDocument, {}, { token: session.accessToken }))).toBe('UNAUTHENTICATED');
    expect(codeOf(await gw.gql(RefreshDocument, { refreshToken: session.refreshToken! }))).toBe('INVALID_TOKEN');
    expect(decodeJwt((await login(self.email)).accessToken).roles).toEqual(['user']);
  });

  it('takes an empty list of roles: the user still signs in, with no roles and an empty scope, and is refused admin queries', async () => {
    const target = await signUp(gw, uniqueEmail('roleless'));
    const set = await gw.gql(SetUserRolesDocument, { userId: target.user.id, roles: [] }, { token: admin.accessToken });
    expect(set.data?.setUserRoles).toEqual({ id: target.user.id, roles: [] });
    expect(await rolesInDb(target.user.id)).toEqual([]);
    const session = await login(target.email);
    expect(decodeJwt(session.accessToken)).toMatchObject({ roles: [], scope: '' });
    expect((await gw.gql(MeDocument, {}, { token: session.accessToken })).data?.me).toMatchObject({ id: target.user.id, roles: [] });
    expect(codeOf(await gw.gql(UsersDocument, {}, { token: session.accessToken }))).toBe('FORBIDDEN');
  });

  it('refuses malformed role names with BAD_USER_INPUT and changes nothing', async () => {
    for (const roles of [['Admin'], ['super user'], ['user', ''], ['1st'], [' user']]) {
      const result = await gw.gql(SetUserRolesDocument, { userId: plain.user.id, roles }, { token: admin.accessToken });
      expect(codeOf(result)).toBe('BAD_USER_INPUT');
    }
    expect(await rolesInDb(plain.user.id)).toEqual(['user']);
  });

  it('takes at most 32 roles, whose tokens still fit an 8 KB header', async () => {
    const target = await signUp(gw, uniqueEmail('many-roles'));
    const roles = Array.from({ length: 32 }, (_, i) => `role-${i}-`.padEnd(64, 'x'));
    const tooMany = await gw.gql(SetUserRolesDocument, { userId: target.user.id, roles: [...roles, 'user'] }, { token: admin.accessToken });
    expect(codeOf(tooMany)).toBe('BAD_USER_INPUT');
    expect(tooMany.errors![0]!.message).toBe('At most 32 roles per user.');
    expect(await rolesInDb(target.user.id)).toEqual(['user']);

    const set = await gw.gql(SetUserRolesDocument, { userId: target.user.id, roles }, { token: admin.accessToken });
    expect(set.data?.setUserRoles.roles).toHaveLength(32);
    const { accessToken } = await login(target.email);
    expect(`authorization: Bearer ${accessToken}`.length).toBeLessThan(8192);
    expect(codeOf(await gw.gql(MeDocument, {}, { token: accessToken }))).toBeUndefined();

    // A user given more before the limit can still lose some, though not yet down to 32, but
    // gain none (longer roles would make the tokens bigger still).
    const crowded = Array.from({ length: 40 }, (_, i) => `crowd-${i}`).sort();
    await gw.database.db.update(users).set({ roles: crowded }).where(eq(users.id, target.user.id));
    const swapped = await gw.gql(SetUserRolesDocument, { userId: target.user.id, roles: [...crowded.slice(2), 'x'.repeat(64)] }, { token: admin.accessToken });
    expect(codeOf(swapped)).toBe('BAD_USER_INPUT');
    const fewer = await gw.gql(SetUserRolesDocument, { userId: target.user.id, roles: crowded.slice(1) }, { token: admin.accessToken });
    expect(fewer.errors).toBeUndefined();
    expect(fewer.data?.setUserRoles.roles).toHaveLength(39);
  });

  it('refuses an unknown or malformed userId with BAD_USER_INPUT', async () => {
    for (const userId of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const result = await gw.gql(SetUserRolesDocument, { userId, roles: ['user'] }, { token: admin.accessToken });
      expect(codeOf(result)).toBe('BAD_USER_INPUT');
    }
  });

  it('answers a plain user FORBIDDEN and an anonymous caller UNAUTHENTICATED, granting nothing', async () => {
    const vars = { userId: plain.user.id, roles: ['user', 'admin'] };
    expect(codeOf(await gw.gql(SetUserRolesDocument, vars, { token: plain.accessToken }))).toBe('FORBIDDEN');
    expect(codeOf(await gw.gql(SetUserRolesDocument, vars))).toBe('UNAUTHENTICATED');
    expect(await rolesInDb(plain.user.id)).toEqual(['user']);
  });

  it('applies concurrent role changes without losing any (read and write under one row lock)', async () => {
    const target = await signUp(gw, uniqueEmail('many-roles'));
    const granted = Array.from({ length: 10 }, (_, i) => `team-${i}`);
    await Promise.all(granted.map((role) => grantRole(gw.deps, target.email, role)));
    expect(await rolesInDb(target.user.id)).toEqual([...granted, 'user'].sort());
  });
});

// Row locks and a second connection: PostgreSQL only (PGlite has one connection).
describe.runIf(process.env.DATABASE_URL)('setUserRoles under failure and concurrency (PostgreSQL)', () => {
  it('a removal that fails before its sessions end changes nothing, and its retry ends them', async () => {
    const target = await signUp(gw, uniqueEmail('demoted'));
    await grantRole(gw.deps, target.email, 'admin');
    const demoted = await login(target.email);
    // Its sessions locked: the removal waits there, and is cancelled (as a statement_timeout, a
    // deadlock or a lost connection would end it) between the roles' write and the sessions'.
    const release = await holdingRowLock(gw, sql`select 1 from sessions where user_id = ${target.user.id}::uuid for update`);
    const asked = gw.gql(SetUserRolesDocument, { userId: target.user.id, roles: ['user'] }, { token: admin.accessToken });
    await cancelWaitingStatement(gw);
    expect(codeOf(await asked)).toBe('SERVICE_UNAVAILABLE');
    await release();
    // Nothing landed: the role is still there, and so is the session that carries it.
    expect(await rolesInDb(target.user.id)).toEqual(['admin', 'user']);
    expect((await gw.gql(UsersDocument, {}, { token: demoted.accessToken })).errors).toBeUndefined();
    // The retry finds the role to remove, and ends the sessions with it.
    const retried = await gw.gql(SetUserRolesDocument, { userId: target.user.id, roles: ['user'] }, { token: admin.accessToken });
    expect(retried.data?.setUserRoles.roles).toEqual(['user']);
    expect(codeOf(await gw.gql(UsersDocument, {}, { token: demoted.accessToken }))).toBe('UNAUTHENTICATED');
  });

  it("an operator's disable-user that fails while ending the sessions leaves the user enabled and them live; run again, it does both", async () => {
    const target = await signUp(gw, uniqueEmail('disabled'));
    const release = await holdingRowLock(gw, sql`select 1 from sessions where user_id = ${target.user.id}::uuid for update`);
    const disabling = disableUser(gw.deps, target.email).then(() => 'disabled', (error: unknown) => error);
    await cancelWaitingStatement(gw);
    expect(await disabling).toBeInstanceOf(Error);
    await release();
    const disabledAt = async () => (await gw.database.db.select({ at: users.disabledAt }).from(users).where(eq(users.id, target.user.id)))[0]!.at;
    expect(await disabledAt()).toBeNull();
    expect((await gw.gql(MeDocument, {}, { token: target.accessToken })).errors).toBeUndefined();
    expect(await disableUser(gw.deps, target.email)).toEqual([decodeJwt(target.accessToken).sid]);
    expect(await disabledAt()).not.toBeNull();
    expect(codeOf(await gw.gql(MeDocument, {}, { token: target.accessToken }))).toBe('UNAUTHENTICATED');
    // Refused by the revocation too, not only by the account's flag: a query of the token's own claims.
    const claimsOnly = await gw.post({ query: '{ me { id roles } }' }, { token: target.accessToken });
    expect(((await claimsOnly.json()) as { errors?: Array<{ extensions: { code: string } }> }).errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
  });

  it("an admin's change that waits while the admin's session ends lands nowhere: UNAUTHENTICATED", async () => {
    // The change locks its target's row and its admin's in the order of their ids: the target
    // comes first here, so that the change waits there holding nothing the demotion needs.
    const [target, asking] = [await signUp(gw, uniqueEmail('target')), await signUp(gw, uniqueEmail('asking-admin'))].sort((a, b) =>
      a.user.id < b.user.id ? -1 : 1,
    ) as [Awaited<ReturnType<typeof signUp>>, Awaited<ReturnType<typeof signUp>>];
    await grantRole(gw.deps, asking.email, 'admin');
    const askingAdmin = await login(asking.email);
    // The change waits for the target's row; meanwhile the asking admin's sessions end.
    const release = await holdingRowLock(gw, sql`select 1 from users where id = ${target.user.id}::uuid for update`);
    const asked = gw.gql(SetUserRolesDocument, { userId: target.user.id, roles: ['admin', 'user'] }, { token: askingAdmin.accessToken });
    await waitingBackend(gw);
    const demoted = await gw.gql(SetUserRolesDocument, { userId: asking.user.id, roles: ['user'] }, { token: admin.accessToken });
    expect(demoted.data?.setUserRoles.roles).toEqual(['user']);
    await release();
    expect(codeOf(await asked)).toBe('UNAUTHENTICATED');
    expect(await rolesInDb(target.user.id)).toEqual(['user']);
  });

  it('two admins taking a role from each other at once: one lands, the other finds its session ended (no deadlock)', async () => {
    const twoAdmins = [await signUp(gw, uniqueEmail('mutual')), await signUp(gw, uniqueEmail('mutual'))];
    const [a, b] = await Promise.all(
      twoAdmins.map(async (u) => {
        await grantRole(gw.deps, u.email, 'admin');
        return { id: u.user.id, token: (await login(u.email)).accessToken };
      }),
    ) as [{ id: string; token: string }, { id: string; token: string }];
    // Both wait at their own admin's session, each past the target's row; then go on together.
    const release = await holdingRowLock(gw, sql`select 1 from sessions where user_id in (${a.id}::uuid, ${b.id}::uuid) for no key update`);
    const answers = [
      gw.gql(SetUserRolesDocument, { userId: b.id, roles: ['user'] }, { token: a.token }),
      gw.gql(SetUserRolesDocument, { userId: a.id, roles: ['user'] }, { token: b.token }),
    ];
    await expect.poll(async () => ((await gw.database.db.execute(sql`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`)) as unknown as unknown[]).length, { timeout: 10_000 }).toBe(2);
    await release();
    expect((await Promise.all(answers)).map((answer) => codeOf(answer) ?? 'changed').sort()).toEqual(['UNAUTHENTICATED', 'changed']);
  });
});
