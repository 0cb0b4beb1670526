// Rule: the database is the record of ended sessions. A session ended without this instance
// hearing of it (an announcement lost with the instance that made it, the admin CLI's while
// Redis was unreachable, or one made before a restart without Redis) is refused by every
// instance within REVOCATION_POLL_SECONDS, before a new instance serves its first request, and
// is shared through Redis for the subgraphs.
import { Redis } from 'ioredis';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { catchUpTimeoutMs, startRevocationCatchUp } from '../../src/compose';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { catchUpRevocations, LocalRevocations } from '../../src/domain/revocation';
import { MAX_ACCESS_TOKEN_TTL } from '../../src/domain/tokens';
import { createLogger } from '../../src/logger';
import { PostgresSessionStore } from '../../src/storage/postgres';
import { LogoutDocument, MeDocument } from '../gql/graphql';
import { codeOf, signUp } from '../helpers/fixtures';
import { createTestDatabase, startGateway, type TestDatabase, type TestGateway } from '../helpers/gateway';

const encryptionKeys = generateEncryptionKeyEntry('test');
const WITHOUT_REDIS = { REDIS_URL: undefined, SINGLE_INSTANCE: 'true' };
let database: TestDatabase;
const open: TestGateway[] = [];
const start = async (env: Record<string, string | undefined>) => {
  const gw = await startGateway({ database: database.database, encryptionKeys, env });
  open.push(gw);
  return gw;
};
const meCode = async (gw: TestGateway, token: string) => codeOf(await gw.gql(MeDocument, {}, { token }));

/** Asks every 100 ms until the token is refused; how long that took, or undefined after `ms`. */
async function refusedWithin(gw: TestGateway, token: string, ms: number) {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if ((await meCode(gw, token)) === 'UNAUTHENTICATED') return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return undefined;
}

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  for (const gw of open) await gw.close();
  await database?.drop();
});

describe('catchUpRevocations', () => {
  it('reads back as far as a token may live, however late a revocation was committed, and publishes only what it has not heard of', async () => {
    const gw = await start(WITHOUT_REDIS);
    const sids = [];
    for (let i = 0; i < 4; i++) sids.push(decodeJwt((await signUp(gw)).accessToken).sid as string);
    const [expired, late, heard, recent] = sids as [string, string, string, string];
    const store = new PostgresSessionStore(database.database.db);
    let now = new Date();
    const clock = { now: () => now, advance: (seconds: number) => (now = new Date(now.getTime() + seconds * 1000)) };
    const ttl = 900;
    const ago = (seconds: number) => new Date(clock.now().getTime() - seconds * 1000);
    const revocations = new LocalRevocations();
    const deps = { sessions: store, revocations, clock };
    // Ended before the longest ACCESS_TOKEN_TTL + 60 s: no token of it still verifies anywhere
    // (a subgraph's too), nothing to publish; one ended since may have a token that does.
    await store.revoke(expired, 'admin', ago(MAX_ACCESS_TOKEN_TTL + 61));
    await store.revoke(recent, 'admin', ago(MAX_ACCESS_TOKEN_TTL + 59));
    expect(await catchUpRevocations(deps)).toBe(1);
    expect(revocations.isRevoked(recent, clock.now())).toBe(true);
    expect(revocations.isRevoked(expired, clock.now())).toBe(false);

    // Committed after that read but stamped ten minutes before it (a revocation that waited on a
    // lock, or an instance whose clock lags); and one this instance heard of on the channel.
    await store.revoke(late, 'admin', ago(600));
    await store.revoke(heard, 'admin', ago(1));
    await revocations.publish([heard], ago(-ttl));
    clock.advance(30);
    expect(await catchUpRevocations(deps)).toBe(1);
    expect(revocations.isRevoked(late, clock.now())).toBe(true);
    expect(await catchUpRevocations(deps)).toBe(0);
    // An entry lasts as long as a token of the session could, issued by any instance: ended
    // 630 s before now, the longest ACCESS_TOKEN_TTL + 60 s skew.
    clock.advance(MAX_ACCESS_TOKEN_TTL + 60 - 630 - 1);
    expect(revocations.isRevoked(late, clock.now())).toBe(true);
    clock.advance(2);
    expect(revocations.isRevoked(late, clock.now())).toBe(false);
  });

  it('publishes what one pass finds until the latest of them has expired, never shorter than its own', async () => {
    const gw = await start(WITHOUT_REDIS);
    const [older, newer] = [decodeJwt((await signUp(gw)).accessToken).sid as string, decodeJwt((await signUp(gw)).accessToken).sid as string];
    const store = new PostgresSessionStore(database.database.db);
    let now = new Date();
    const clock = { now: () => now, advance: (seconds: number) => (now = new Date(now.getTime() + seconds * 1000)) };
    const ago = (seconds: number) => new Date(clock.now().getTime() - seconds * 1000);
    const revocations = new LocalRevocations();
    const deps = { sessions: store, revocations, clock };
    // Heard of already: whatever other tests ended, so that the pass below finds only these two.
    await catchUpRevocations(deps);
    await store.revoke(older, 'admin', ago(600));
    await store.revoke(newer, 'admin', ago(1));
    expect(await catchUpRevocations(deps)).toBe(2);
    // 2 s before the newer session's last token expires (ended 1 s ago: the longest
    // ACCESS_TOKEN_TTL + 60 s skew from then), long after the older one's: both still refused.
    clock.advance(MAX_ACCESS_TOKEN_TTL + 60 - 1 - 2);
    expect(revocations.isRevoked(newer, clock.now())).toBe(true);
    expect(revocations.isRevoked(older, clock.now())).toBe(true);
    clock.advance(2);
    expect(revocations.isRevoked(newer, clock.now())).toBe(false);
  });
});

describe('without Redis', () => {
  it('a session ended before a restart stays refused after it, from the first request', async () => {
    const first = await start(WITHOUT_REDIS);
    const [ended, kept] = [await signUp(first), await signUp(first)];
    await first.gql(LogoutDocument, { refreshToken: ended.refreshToken });
    expect(await meCode(first, ended.accessToken)).toBe('UNAUTHENTICATED');
    await first.close();
    open.splice(open.indexOf(first), 1);

    const restarted = await start(WITHOUT_REDIS);
    expect(await meCode(restarted, ended.accessToken)).toBe('UNAUTHENTICATED');
    expect(await meCode(restarted, kept.accessToken)).toBeUndefined();
    expect(restarted.logs.join('')).toContain('revocations caught up from the database');
  });

  it('a session ended on another instance is refused here within REVOCATION_POLL_SECONDS', async () => {
    const [here, there] = [await start({ ...WITHOUT_REDIS, REVOCATION_POLL_SECONDS: '1' }), await start(WITHOUT_REDIS)];
    const user = await signUp(there);
    expect(await meCode(here, user.accessToken)).toBeUndefined();
    await there.gql(LogoutDocument, { refreshToken: user.refreshToken });
    expect(await meCode(there, user.accessToken)).toBe('UNAUTHENTICATED');
    // A second and a bit: the poll, and the query it makes.
    expect(await refusedWithin(here, user.accessToken, 2500)).toBeDefined();
  });
});

describe.skipIf(!process.env.REDIS_URL)('with Redis', () => {
  it('a session ended in the database with no announcement is refused by a running instance within the poll, shared for the subgraphs, and refused by one started later', async () => {
    const running = await start({ REVOCATION_POLL_SECONDS: '1' });
    const [user, kept] = [await signUp(running), await signUp(running)];
    const sessionId = decodeJwt(user.accessToken).sid as string;
    // What an instance that stopped before Redis returned, or the CLI without Redis, leaves: the
    // session ended in the database, and nothing on the channel or in the set.
    expect(await new PostgresSessionStore(database.database.db).revoke(sessionId, 'admin', new Date())).toBe(true);
    expect(await meCode(running, user.accessToken)).toBeUndefined();

    expect(await refusedWithin(running, user.accessToken, 2500)).toBeDefined();
    expect(await meCode(running, kept.accessToken)).toBeUndefined();
    const redis = new Redis(process.env.REDIS_URL!);
    try {
      const score = await redis.zscore(`${running.config.rateLimit.prefix}:revoked`, sessionId);
      expect(Number(score)).toBeGreaterThan(Date.now());
    } finally {
      redis.disconnect();
    }
    const later = await start({ RATE_LIMIT_PREFIX: `${running.config.rateLimit.prefix}-later` }); // a set of its own: only the database tells it
    expect(await meCode(later, user.accessToken)).toBe('UNAUTHENTICATED');
    expect(await meCode(later, kept.accessToken)).toBeUndefined();
  });
});

describe('the start-up wait for the first catch-up', () => {
  it('is REVOCATION_POLL_SECONDS, but never under 10 s (a short poll would not hold a start for a slow read) nor over 30 s', () => {
    const waits = [1, 9, 10, 15, 30, 31, 3600].map((revocationPollSeconds) => catchUpTimeoutMs({ revocationPollSeconds }));
    expect(waits).toEqual([10_000, 10_000, 10_000, 15_000, 30_000, 30_000, 30_000]);
  });
});

describe.skipIf(!process.env.DATABASE_URL)('a read that hangs', () => {
  it('does not hold the start-up, starts no second read while it waits, and counts once it is answered', async () => {
    // A database of its own, which no other instance polls; and this one's own poll stays out of the way.
    const own = await createTestDatabase();
    let stop: (() => void) | undefined;
    const gw = await startGateway({ database: own.database, encryptionKeys, env: { ...WITHOUT_REDIS, REVOCATION_POLL_SECONDS: '3600' } });
    try {
      const db = own.database.db;
      const user = await signUp(gw);
      const sessionId = decodeJwt(user.accessToken).sid as string;
      await new PostgresSessionStore(db).revoke(sessionId, 'admin', new Date());
      const lines: string[] = [];
      const logger = createLogger('info', { write: (line: string) => void lines.push(line) });
      const waitingOnLock = async () =>
        Number(
          ((await db.execute(sql`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)) as unknown as Array<{ n: string }>)[0]!.n,
        );

      let release!: () => void;
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const lock = db.transaction(async (tx) => {
        await tx.execute(sql`LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE`);
        locked();
        await new Promise<void>((resolve) => (release = resolve));
      });
      await isLocked;
      try {
        const started = Date.now();
        stop = await startRevocationCatchUp(gw.deps, { ...gw.config, revocationPollSeconds: 1 }, logger, 300);
        expect(Date.now() - started).toBeLessThan(3000);
        expect(lines.join('')).toContain('the read is still unanswered');
        expect(gw.deps.revocations.isRevoked(sessionId, new Date())).toBe(false);
        // Two polls go by: still the one read waiting on the lock.
        await new Promise((resolve) => setTimeout(resolve, 2200));
        expect(await waitingOnLock()).toBe(1);
      } finally {
        release();
        await lock;
      }
      const answered = Date.now();
      while (!gw.deps.revocations.isRevoked(sessionId, new Date()) && Date.now() - answered < 3000) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(gw.deps.revocations.isRevoked(sessionId, new Date())).toBe(true);
      expect(lines.join('')).toContain('revocations caught up from the database');
    } finally {
      stop?.();
      await gw.close();
      await own.drop();
    }
  });
});
