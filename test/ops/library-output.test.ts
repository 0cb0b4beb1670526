// Rule: whatever a library prints through console.warn or console.error reaches the server's log as
// a JSON line like every other (source "library"), never as a plain line: here ioredis's own
// warning when the Redis user may not run INFO (as `-@dangerous` forbids), and when a password is
// sent to a Redis that asks for none.
import { afterAll, describe, expect, it } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { childEnv, createNamedDatabase, freePort, spawnTsx, type NamedDatabase } from '../helpers/processes';
import { redisServerBinary, throwawayRedis, type ThrowawayRedis } from '../helpers/throwaway-redis';

const binary = redisServerBinary();
if (!binary) console.log('skipping the library output test: no redis-server on PATH');

const READY = /ready at (http:\/\/\S+)/;
const ENCRYPTION_KEYS = generateEncryptionKeyEntry('k1');

describe.skipIf(!binary)('a library speaking through console', () => {
  let redis: ThrowawayRedis | undefined;
  let database: NamedDatabase | undefined;
  afterAll(async () => {
    await redis?.stop();
    await database?.drop();
  });

  /** Starts the server on `redisUrl`, stops it, and returns what it wrote on stdout and stderr. */
  async function outputOf(redisUrl: string) {
    database ??= await createNamedDatabase({ migrated: true });
    const env = { ...database.env, REDIS_URL: redisUrl, ENCRYPTION_KEYS, PORT: String(await freePort()) };
    const server = spawnTsx('src/main.ts', [], childEnv(env));
    try {
      await server.waitFor(READY, 60_000);
      server.process.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      return { stdout: server.stdout(), stderr: server.stderr() };
    } finally {
      server.killAll();
    }
  }

  /** Every line of stdout but the plain "ready at" ones is JSON; the JSON lines. */
  function jsonLines(stdout: string) {
    const lines = stdout.split('\n').filter((line) => line !== '' && !/^(GraphQL auth gateway ready at|Federation subgraph listener at|Prometheus metrics at) /.test(line));
    return lines.map((line) => JSON.parse(line) as { level: number; msg: string; source?: string });
  }

  it("logs ioredis's warnings as JSON lines of the log, with nothing plain on stdout or stderr", async () => {
    redis = await throwawayRedis(binary!);
    await redis.start();
    const admin = redis.client();
    try {
      await admin.call('ACL', 'SETUSER', 'gateway', 'on', '>gateway-password', '~*', '&*', '+@all', '-info');
    } finally {
      await admin.quit();
    }
    const noInfo = await outputOf(`redis://gateway:gateway-password@127.0.0.1:${redis.port}`);
    expect(noInfo.stderr).toBe('');
    expect(jsonLines(noInfo.stdout)).toContainEqual(
      expect.objectContaining({ level: 40, source: 'library', msg: expect.stringContaining('Skipping the ready check because INFO command fails') }),
    );

    const needless = await outputOf(`redis://:not-needed@127.0.0.1:${redis.port}`);
    expect(needless.stderr).toBe('');
    expect(jsonLines(needless.stdout)).toContainEqual(
      expect.objectContaining({ level: 40, source: 'library', msg: expect.stringContaining('does not require a password') }),
    );
    expect(needless.stdout).not.toContain('not-needed');
  }, 120_000);
});
