// Rule: when a session ends, its access tokens stop working at once (not at expiry), on every
// path that ends sessions, and on every instance sharing the Redis; entries lapse once those
// tokens have expired.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { LocalRevocations } from '../../src/domain/revocation';
import { CLOCK_SKEW_SECONDS, MAX_ACCESS_TOKEN_TTL } from '../../src/domain/tokens';
import { createLogger } from '../../src/logger';
import { connectRedis } from '../../src/storage/redis/client';
import { RedisRevocationFeed } from '../../src/storage/redis/revocation-feed';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { users } from '../../src/storage/postgres/schema';
import { ChangePasswordDocument, LoginDocument, LogoutDocument, MeDocument, RevokeSessionDocument, SessionsDocument } from '../gql/graphql';
import { codeOf, signUp } from '../helpers/fixtures';
import { createTestDatabase, rateLimitDefaults, startGateway, type TestDatabase, type TestGateway } from '../helpers/gateway';
import { refreshCode, rotate } from '../helpers/sessions';
import { childEnv, createNamedDatabase, runTsx, type NamedDatabase } from '../helpers/processes';
import type { Database } from '../../src/storage/postgres';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway();
});
afterAll(() => gw?.close());

const meCode = async (g: TestGateway, token: string) => codeOf(await g.gql(MeDocument, {}, { token }));

async function secondSession(email: string, password: string) {
  const result = await gw.gql(LoginDocument, { email, password });
  if (result.data?.login.__typename !== 'AuthPayload') throw new Error('expected AuthPayload');
  return result.data.login;
}

describe('on this instance', () => {
  it('logout makes that session\'s access token anonymous at once, and only that one', async () => {
    const user = await signUp(gw);
    const other = await secondSession(user.email, user.password);
    expect(await meCode(gw, user.accessToken)).toBeUndefined();
    await gw.gql(LogoutDocument, { refreshToken: user.refreshToken });
    const me = await gw.gql(MeDocument, {}, { token: user.accessToken });
    expect(me.status).toBe(200);
    expect(codeOf(me)).toBe('UNAUTHENTICATED');
    expect(await meCode(gw, other.accessToken)).toBeUndefined();
  });

  it('revokeSession, refresh reuse, changePassword and role removal each end the tokens of the sessions they end', async () => {
    const user = await signUp(gw);
    const other = await secondSession(user.email, user.password);
    const sessions = (await gw.gql(SessionsDocument, {}, { token: user.accessToken })).data!.sessions;
    const otherId = sessions.find((s) => !s.current)!.id;
    expect((await gw.gql(RevokeSessionDocument, { id: otherId }, { token: user.accessToken })).data?.revokeSession).toBe(true);
    expect(await meCode(gw, other.accessToken)).toBe('UNAUTHENTICATED');

    // Reuse of a spent refresh token (after the grace period) ends the family.
    const rotated = await rotate(gw, user.refreshToken);
    gw.clock.advance(11);
    expect(await refreshCode(gw, user.refreshToken)).toBe('INVALID_TOKEN');
    expect(await meCode(gw, rotated.accessToken)).toBe('UNAUTHENTICATED');

    const fresh = await signUp(gw);
    const sibling = await secondSession(fresh.email, fresh.password);
    const changed = await gw.gql(
      ChangePasswordDocument,
      { currentPassword: fresh.password, newPassword: 'Heron-Basalt-58?' },
      { token: fresh.accessToken },
    );
    expect(changed.data?.changePassword).toBe(true);
    expect(await meCode(gw, sibling.accessToken)).toBe('UNAUTHENTICATED');
    expect(await meCode(gw, fresh.accessToken)).toBeUndefined();

    const target = await signUp(gw);
    await gw.database.db.update(users).set({ roles: ['user', 'editor'] }).where(eq(users.id, target.user.id));
    const { changeRoles } = await import('../../src/domain/auth');
    await changeRoles(gw.deps, target.user.id, () => ['user']);
    expect(await meCode(gw, target.accessToken)).toBe('UNAUTHENTICATED');
  });

  it('takes a session or user id in uppercase too, and ends the tokens all the same', async () => {
    // A client's UUID type may print ids in uppercase; the database matches either, and so must
    // the revocation, which the guard looks up by the token's lowercase sid.
    const user = await signUp(gw);
    const other = await secondSession(user.email, user.password);
    const sessions = (await gw.gql(SessionsDocument, {}, { token: user.accessToken })).data!.sessions;
    const otherId = sessions.find((s) => !s.current)!.id;
    const revoked = await gw.gql(RevokeSessionDocument, { id: otherId.toUpperCase() }, { token: user.accessToken });
    expect(revoked.data?.revokeSession).toBe(true);
    expect(await meCode(gw, other.accessToken)).toBe('UNAUTHENTICATED');
    expect(await meCode(gw, user.accessToken)).toBeUndefined();

    const target = await signUp(gw);
    await gw.database.db.update(users).set({ roles: ['user', 'editor'] }).where(eq(users.id, target.user.id));
    const { changeRoles } = await import('../../src/domain/auth');
    await changeRoles(gw.deps, target.user.id.toUpperCase(), () => ['user']);
    expect(await meCode(gw, target.accessToken)).toBe('UNAUTHENTICATED');
  });

  it('forgets an entry once the session\'s tokens have expired (ACCESS_TOKEN_TTL + 60 s skew)', () => {
    const local = new LocalRevocations();
    const now = new Date();
    void local.publish(['s1'], new Date(now.getTime() + 960_000));
    expect(local.isRevoked('s1', now)).toBe(true);
    expect(local.isRevoked('s2', now)).toBe(false);
    expect(local.isRevoked('s1', new Date(now.getTime() + 960_001))).toBe(false);
    expect(local.size).toBe(0);
  });

  it('never shortens an entry: heard again with an earlier end, the session stays refused until the later one', () => {
    const local = new LocalRevocations();
    const now = new Date();
    const at = (ms: number) => new Date(now.getTime() + ms);
    // Heard twice (the channel, then a catch-up or a load that brings an older stamp): the longer stands.
    local.remember(['s1'], at(960_000).getTime());
    local.remember(['s1'], at(60_000).getTime());
    expect(local.isRevoked('s1', at(60_000))).toBe(true);
    expect(local.isRevoked('s1', at(959_999))).toBe(true);
    expect(local.isRevoked('s1', at(960_000))).toBe(false);
  });

  it('also forgets, within a minute, the expired entries of sessions it is never asked about', () => {
    const local = new LocalRevocations();
    const now = new Date();
    const at = (ms: number) => new Date(now.getTime() + ms);
    expect(local.isRevoked('any', now)).toBe(false);
    void local.publish(['a', 'b'], at(1_000));
    void local.publish(['c'], at(120_000));
    expect(local.isRevoked('other', at(30_000))).toBe(false);
    expect(local.size).toBe(3); // swept at most once a minute
    expect(local.isRevoked('other', at(60_000))).toBe(false);
    expect(local.size).toBe(1);
    expect(local.isRevoked('c', at(60_000))).toBe(true);
  });
});

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) console.log('skipping the shared revocation feed test: REDIS_URL unset');
describe.skipIf(!redisUrl)('across instances sharing Redis', () => {
  let database: TestDatabase;
  const started: TestGateway[] = [];
  const encryptionKeys = generateEncryptionKeyEntry('test');
  const env = { ...rateLimitDefaults() }; // one prefix for all three
  const start = async (own: Record<string, string> = {}) => {
    const g = await startGateway({ database: database.database, encryptionKeys, env: { ...env, ...own } });
    started.push(g);
    return g;
  };
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    for (const g of started) await g.close();
    await database?.drop();
  });

  /** Waits (up to a second) for `g` to hear of a revocation made on another instance. */
  const untilRefused = async (g: TestGateway, token: string) => {
    const deadline = Date.now() + 1000;
    while ((await meCode(g, token)) !== 'UNAUTHENTICATED') {
      if (Date.now() > deadline) throw new Error('the instance still accepts the revoked session after 1 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  it('a logout on one instance is enforced by another within a second, and by one started later', async () => {
    const [a, b] = [await start(), await start()];
    const user = await signUp(a);
    expect(await meCode(b, user.accessToken)).toBeUndefined();
    await a.gql(LogoutDocument, { refreshToken: user.refreshToken });
    await untilRefused(b, user.accessToken);
    const c = await start();
    expect(await meCode(c, user.accessToken)).toBe('UNAUTHENTICATED');
  });

  // A rolling deploy that changes ACCESS_TOKEN_TTL runs instances with different ones side by side.
  it('with different ACCESS_TOKEN_TTLs, a revocation lasts as long as the longer-lived tokens of either', async () => {
    // The longest TTL allowed: a revocation sized by either instance's own TTL, or by the
    // default (900 s), would have lapsed before its tokens.
    const [short, long] = [await start({ ACCESS_TOKEN_TTL: '30' }), await start({ ACCESS_TOKEN_TTL: String(MAX_ACCESS_TOKEN_TTL) })];
    const user = await signUp(long);
    const other = await signUp(long);
    await short.gql(LogoutDocument, { refreshToken: user.refreshToken });
    await untilRefused(long, user.accessToken);
    for (const g of [short, long]) g.clock.advance(900 + CLOCK_SKEW_SECONDS + 10);
    // Still within its 3600 s: the long-lived instance must still know the session ended.
    expect(await meCode(long, user.accessToken)).toBe('UNAUTHENTICATED');
    expect(await meCode(long, other.accessToken)).toBeUndefined();
  });

  it('an instance with a shorter ACCESS_TOKEN_TTL refuses a longer-lived token once older than its own, cached or not', async () => {
    const [short, long] = [await start({ ACCESS_TOKEN_TTL: '30' }), await start({ ACCESS_TOKEN_TTL: '900' })];
    const user = await signUp(long);
    expect(await meCode(short, user.accessToken)).toBeUndefined(); // verified, and cached
    short.clock.advance(30 + CLOCK_SKEW_SECONDS + 1);
    expect(await meCode(short, user.accessToken)).toBe('UNAUTHENTICATED');
  });
});

describe.skipIf(!redisUrl)('the shared set of revoked sessions', () => {
  it('lives as long as its latest entry plus the skew: an expiry is set, pushed on by a later entry, never shortened by an earlier one', async () => {
    const prefix = `test:set-expiry:${Date.now()}`;
    const connection = connectRedis(redisUrl!, createLogger('silent'));
    expect(await connection.ready(5000)).toBe(true);
    const feed = new RedisRevocationFeed(connection.client, prefix, createLogger('silent'));
    const key = `${prefix}:revoked`;
    try {
      await feed.started();
      const ttlAfter = async (ids: string[], untilMs: number) => {
        await feed.publish(ids, new Date(Date.now() + untilMs));
        return connection.client.pttl(key);
      };
      const skew = CLOCK_SKEW_SECONDS * 1000;
      const first = await ttlAfter(['s-1'], 600_000);
      expect(first).toBeGreaterThan(600_000 + skew - 5000);
      expect(first).toBeLessThanOrEqual(600_000 + skew);
      const earlier = await ttlAfter(['s-2'], 60_000);
      expect(earlier).toBeGreaterThan(600_000 + skew - 5000); // not shortened
      const later = await ttlAfter(['s-3', 's-4'], 1_200_000);
      expect(later).toBeGreaterThan(1_200_000 + skew - 5000);
      expect(await connection.client.zcard(key)).toBe(4);
      await connection.client.persist(key); // a set left with no expiry gets one again
      expect(await ttlAfter(['s-5'], 60_000)).toBeGreaterThan(60_000 + skew - 5000);
    } finally {
      await feed.close();
      await connection.client.del(key);
      await connection.close();
    }
  });
});

const withPostgresAndRedis = Boolean(redisUrl && process.env.DATABASE_URL);
if (!withPostgresAndRedis) console.log('skipping the admin revoke-sessions revocation test: it needs REDIS_URL and DATABASE_URL');
describe.skipIf(!withPostgresAndRedis)('operator commands', () => {
  let named: NamedDatabase;
  let database: Database;
  let running: TestGateway;
  beforeAll(async () => {
    named = await createNamedDatabase({ migrated: true });
    database = await named.open();
    running = await startGateway({ database });
  });
  afterAll(async () => {
    await running?.close();
    await database?.close();
    await named?.drop();
  });

  it('`npm run admin -- revoke-sessions` makes the running gateway refuse that user\'s tokens at once', async () => {
    const user = await signUp(running);
    expect(await meCode(running, user.accessToken)).toBeUndefined();
    const run = await runTsx(
      'src/cli/admin.ts',
      ['revoke-sessions', user.email],
      childEnv({ ...named.env, REDIS_URL: redisUrl!, RATE_LIMIT_PREFIX: running.config.rateLimit.prefix }),
    );
    expect(run.code, run.stderr).toBe(0);
    const deadline = Date.now() + 1000;
    while ((await meCode(running, user.accessToken)) !== 'UNAUTHENTICATED') {
      if (Date.now() > deadline) throw new Error('the gateway still accepts the revoked session after 1 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
});
