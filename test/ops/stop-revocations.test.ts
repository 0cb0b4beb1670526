// Rule: a stop gives the revocations Redis has not taken yet one last try, and when Redis is
// still away says how many were never shared (other instances then refuse those sessions only
// at their next database poll), rather than dropping them in silence.
import { afterAll, describe, expect, it } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { LoginDocument, LogoutDocument, RegisterDocument } from '../gql/graphql';
import { PASSWORD, uniqueEmail } from '../helpers/fixtures';
import { childEnv, createNamedDatabase, freePort, gqlAt, spawnTsx, type NamedDatabase } from '../helpers/processes';
import { redisServerBinary, throwawayRedis, type ThrowawayRedis } from '../helpers/throwaway-redis';

const binary = redisServerBinary();
if (!binary) console.log('skipping the stop-revocations test: no redis-server on PATH');

const READY = /ready at (http:\/\/\S+)/;

describe.skipIf(!binary)('a stop while Redis is away', () => {
  let redis: ThrowawayRedis | undefined;
  let database: NamedDatabase | undefined;
  afterAll(async () => {
    await redis?.stop();
    await database?.drop();
  });

  it('tries the revocations still waiting once more, and warns with how many were never shared', async () => {
    redis = await throwawayRedis(binary!);
    await redis.start();
    database = await createNamedDatabase({ migrated: true });
    const env = { ...database.env, REDIS_URL: redis.url, ENCRYPTION_KEYS: generateEncryptionKeyEntry('k1'), PORT: String(await freePort()) };
    const server = spawnTsx('src/main.ts', [], childEnv(env));
    try {
      const [, url] = await server.waitFor(READY, 60_000);
      const email = uniqueEmail('stop');
      expect((await gqlAt(url!, RegisterDocument, { email, password: PASSWORD })).data?.register).toBe(true);
      const login = await gqlAt(url!, LoginDocument, { email, password: PASSWORD });
      if (login.data?.login.__typename !== 'AuthPayload') throw new Error('expected an AuthPayload');
      await redis.stop();
      // Ended in the database; its announcement waits for Redis.
      const logout = await gqlAt(url!, LogoutDocument, { refreshToken: login.data.login.refreshToken }, { token: login.data.login.accessToken });
      expect(logout.data?.logout).toBe(true);
      server.process.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      const lines = server
        .stdout()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { level: number; msg: string; count?: number });
      const never = lines.filter((line) => line.msg.startsWith('revocations never shared'));
      expect(never).toEqual([expect.objectContaining({ level: 40, count: 1 })]);
      // Said before the process reports itself stopped.
      expect(lines.findIndex((line) => line.msg === 'stopped')).toBeGreaterThan(lines.indexOf(never[0]!));
    } finally {
      server.killAll();
    }
  }, 120_000);
});
