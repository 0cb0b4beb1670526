// Rule: a verified token remembered by the guard never outlives its exp, a revocation or a key-ring reload; `me { id roles }` answers from the token alone (the roles it carries), and the rest of `me` still reads the account.
import { eq } from 'drizzle-orm';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VerifiedTokenCache, verifyAccessToken } from '../../src/domain/tokens';
import { signingKeys, users } from '../../src/storage/postgres/schema';
import { LogoutDocument, MeDocument, MeEmailDocument, MeIdRolesDocument, RefreshDocument, SetUserRolesDocument } from '../gql/graphql';
import { codeOf, signUp } from '../helpers/fixtures';
import { createTestDatabase, startGateway, type TestDatabase, type TestGateway } from '../helpers/gateway';

const meCode = async (gw: TestGateway, token: string) => codeOf(await gw.gql(MeIdRolesDocument, {}, { token }));

describe('the verified-token cache', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(() => gw?.close());

  it('serves a token only until it expires (plus the usual 60 s of clock skew), however often it was used', async () => {
    const user = await signUp(gw);
    for (let i = 0; i < 3; i++) expect(await meCode(gw, user.accessToken)).toBeUndefined();
    expect(gw.deps.verifiedTokens.size).toBeGreaterThan(0);
    const { exp } = decodeJwt(user.accessToken);
    gw.clock.advance(exp! - Math.floor(gw.clock.now().getTime() / 1000) - 1);
    expect(await meCode(gw, user.accessToken)).toBeUndefined();
    gw.clock.advance(1 + 61);
    expect(await meCode(gw, user.accessToken)).toBe('UNAUTHENTICATED');
  });

  it('keeps a verification only until the exp itself: the 60 s of skew a fresh verification allows are not cached', async () => {
    const { accessToken } = await signUp(gw);
    const cache = new VerifiedTokenCache(10);
    const claims = await verifyAccessToken(gw.deps.keys, gw.deps.settings.jwt, gw.clock.now(), accessToken, cache);
    expect(claims).not.toBeNull();
    const expMs = decodeJwt(accessToken).exp! * 1000;
    expect(cache.get(gw.deps.keys, accessToken, new Date(expMs - 1))).toEqual(claims);
    expect(cache.get(gw.deps.keys, accessToken, new Date(expMs))).toBeUndefined();
  });

  it("keeps a verification of a token issued with a longer ACCESS_TOKEN_TTL only as long as this instance's TTL allows", async () => {
    const { accessToken } = await signUp(gw);
    const { iat, exp } = decodeJwt(accessToken);
    const ttl = 300; // this instance's, shorter than the 900 s the token was issued for
    expect(exp! - iat!).toBeGreaterThan(ttl);
    const cache = new VerifiedTokenCache(10);
    const settings = { ...gw.deps.settings.jwt, accessTokenTtl: ttl };
    expect(await verifyAccessToken(gw.deps.keys, settings, gw.clock.now(), accessToken, cache)).not.toBeNull();
    const until = (iat! + ttl + 60) * 1000; // the age this instance allows, with the clock skew
    expect(cache.get(gw.deps.keys, accessToken, new Date(until - 1))).toBeDefined();
    expect(cache.get(gw.deps.keys, accessToken, new Date(until))).toBeUndefined();
  });

  it("refuses a revoked session's token at once, though it was cached, and only that session's", async () => {
    const user = await signUp(gw);
    const other = await signUp(gw);
    expect(await meCode(gw, user.accessToken)).toBeUndefined();
    expect(await meCode(gw, user.accessToken)).toBeUndefined();
    expect(await meCode(gw, other.accessToken)).toBeUndefined();
    await gw.gql(LogoutDocument, { refreshToken: user.refreshToken });
    expect(await meCode(gw, user.accessToken)).toBe('UNAUTHENTICATED');
    expect(await meCode(gw, other.accessToken)).toBeUndefined();
  });

  it('forgets every token when the key ring reloads: a token of a key retired since is refused', async () => {
    const user = await signUp(gw);
    expect(await meCode(gw, user.accessToken)).toBeUndefined();
    // Retired out of turn (an operator pulling a compromised key): the next reload drops it.
    const kid = decodeProtectedHeader(user.accessToken).kid!;
    await gw.database.db.update(signingKeys).set({ retiresAt: new Date(gw.clock.now().getTime() - 1000) }).where(eq(signingKeys.kid, kid));
    await gw.reloadKeys();
    expect(await meCode(gw, user.accessToken)).toBe('UNAUTHENTICATED');
    const fresh = await signUp(gw);
    expect(decodeProtectedHeader(fresh.accessToken).kid).not.toBe(kid);
    expect(await meCode(gw, fresh.accessToken)).toBeUndefined();
  });
});

describe('me', () => {
  let database: TestDatabase;
  let gw: TestGateway;
  beforeAll(async () => {
    database = await createTestDatabase();
    gw = await startGateway({ database: database.database });
  });
  afterAll(async () => {
    await gw?.close();
    await database?.drop().catch(() => {}); // closed already by the last test
  });

  it("answers id and roles with the token's roles; an added role shows after the next refresh", async () => {
    const user = await signUp(gw);
    const admin = await signUp(gw);
    await gw.database.db.update(users).set({ roles: ['admin', 'user'] }).where(eq(users.id, admin.user.id));
    const adminToken = (await gw.gql(RefreshDocument, { refreshToken: admin.refreshToken })).data!.refresh.accessToken;
    const set = await gw.gql(SetUserRolesDocument, { userId: user.user.id, roles: ['user', 'editor'] }, { token: adminToken });
    expect(set.errors).toBeUndefined();

    const before = await gw.gql(MeIdRolesDocument, {}, { token: user.accessToken });
    expect(before.data?.me).toEqual({ id: user.user.id, roles: ['user'] });
    const refreshed = await gw.gql(RefreshDocument, { refreshToken: user.refreshToken });
    const after = await gw.gql(MeIdRolesDocument, {}, { token: refreshed.data!.refresh.accessToken });
    expect(after.data?.me).toEqual({ id: user.user.id, roles: ['editor', 'user'] });
  });

  it('reads the account for the other fields and treats a disabled account as none', async () => {
    const user = await signUp(gw);
    const me = await gw.gql(MeDocument, {}, { token: user.accessToken });
    expect(me.errors).toBeUndefined();
    expect(me.data?.me).toMatchObject({ id: user.user.id, email: user.email, mfaEnabled: false, roles: ['user'] });

    // Disabled behind the gateway's back (no session ended): the account read still refuses.
    await gw.database.db.update(users).set({ disabledAt: new Date() }).where(eq(users.id, user.user.id));
    expect(codeOf(await gw.gql(MeEmailDocument, {}, { token: user.accessToken }))).toBe('UNAUTHENTICATED');
  });

  it('needs no database for id and roles: they answer while the database is gone, the email does not', async () => {
    const user = await signUp(gw);
    expect(await meCode(gw, user.accessToken)).toBeUndefined();
    await gw.database.close();
    const idRoles = await gw.gql(MeIdRolesDocument, {}, { token: user.accessToken });
    expect(idRoles.errors).toBeUndefined();
    expect(idRoles.data?.me).toEqual({ id: user.user.id, roles: ['user'] });
    // A Postgres pool that has ended is an unreachable store; a closed PGlite is an unexpected error.
    const expected = gw.database.kind === 'postgres' ? 'SERVICE_UNAVAILABLE' : 'INTERNAL_SERVER_ERROR';
    expect(codeOf(await gw.gql(MeEmailDocument, {}, { token: user.accessToken }))).toBe(expected);
  });
});
