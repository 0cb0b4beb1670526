// Rule: a Redis Cluster node is not taken for one Redis. A plain client gets MOVED for most keys,
// and those limits would be counted in each instance's memory while all looked well: the server
// and the admin CLI refuse to start on one, and a connection that finds one later counts Redis
// as down (the fallback, /readyz degraded), saying why once. So too a database REDIS_URL names
// that Redis refuses (ioredis would stay on database 0).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refuseUnusableRedis } from '../../src/bootstrap';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { createLogger } from '../../src/logger';
import { CLUSTER_UNSUPPORTED, connectRedis } from '../../src/storage/redis/client';
import { RateLimiterCounterStore } from '../../src/storage/redis/counter-store';
import { limitsWith, rulesOf } from '../helpers/counter-stores';
import { childEnv, createNamedDatabase, freePort, runTsx, spawnTsx, tempDir } from '../helpers/processes';
import { redisServerBinary, throwawayRedis, type ThrowawayRedis } from '../helpers/throwaway-redis';

const binary = redisServerBinary();
if (!binary) console.log('skipping the Redis Cluster tests: no redis-server on PATH');

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe.skipIf(!binary)('a Redis Cluster node at REDIS_URL', () => {
  let node: ThrowawayRedis;
  beforeAll(async () => {
    const dir = tempDir('redis-cluster');
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    node = await throwawayRedis(binary!, ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, 'nodes.conf')]);
    cleanups.push(() => node.stop());
    await node.start();
  });

  it('is refused by the server and the admin CLI at start', { timeout: 90_000 }, async () => {
    const named = await createNamedDatabase({ migrated: true });
    cleanups.push(() => named.drop());
    const env = { ...named.env, NODE_ENV: 'test', LOG_LEVEL: 'warn', ENCRYPTION_KEYS: generateEncryptionKeyEntry('k1'), REDIS_URL: node.url };

    const server = spawnTsx('src/main.ts', [], childEnv({ ...env, PORT: String(await freePort()) }));
    cleanups.push(() => server.killAll());
    const started = server.waitFor(/ready at/, 30_000).then(() => 'started', () => server.exited);
    expect(await Promise.race([server.exited, started])).toBe(1);
    expect(server.stderr()).toContain(`Refusing to start: ${CLUSTER_UNSUPPORTED}`);

    const admin = await runTsx('src/cli/admin.ts', ['prune'], childEnv(env));
    expect(admin.code).toBe(1);
    expect(admin.stderr).toContain(`admin: ${CLUSTER_UNSUPPORTED}`);
  });

  it('counts as down once connected to: the counters use the fallback, and it is said once', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) });
    const connection = connectRedis(node.url, createLogger('info', sink));
    try {
      expect(await connection.ready(5000)).toBe(true);
      expect(await connection.refusal()).toBe(CLUSTER_UNSUPPORTED);
      expect(connection.healthy()).toBe(false);
      const store = new RateLimiterCounterStore({
        prefix: `cluster-${Date.now()}`,
        rules: rulesOf(limitsWith({ registerIp: { points: 5, duration: 60 } })),
        redis: connection.client,
        onRedisFailure: 'insurance',
        redisAnswers: connection.healthy,
      });
      expect(await store.consume('registerIp', 'k')).toMatchObject({ allowed: true, store: 'local' });
      // The stall watch's PINGs are answered: nothing makes it look healthy again.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect(connection.healthy()).toBe(false);
      expect(lines.filter((line) => line.includes(CLUSTER_UNSUPPORTED))).toHaveLength(1);
    } finally {
      await connection.close();
    }
  });
});

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) console.log('skipping the refused-database test: REDIS_URL unset');
describe.skipIf(!redisUrl)('a database at REDIS_URL that Redis refuses', () => {
  it('counts as down, saying why once, and is refused at start: the counters never land in database 0', async () => {
    const url = new URL(redisUrl!);
    url.pathname = '/99'; // beyond the 16 databases Redis has by default
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) });
    const connection = connectRedis(url.toString(), createLogger('info', sink));
    try {
      expect(await connection.ready(5000)).toBe(true);
      expect(await connection.refusal()).toMatch(/^REDIS_URL names database 99, which this Redis refuses \(ERR;/);
      expect(connection.healthy()).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 1500)); // the stall watch's PINGs are answered
      expect(connection.healthy()).toBe(false);
      expect(lines.filter((line) => line.includes('names database 99'))).toHaveLength(1);
      await expect(refuseUnusableRedis(connection)).rejects.toThrow(/REDIS_URL names database 99/);
    } finally {
      await connection.close();
    }
    const fine = connectRedis(redisUrl!, createLogger('silent'));
    try {
      expect(await fine.ready(5000)).toBe(true);
      expect(await fine.refusal()).toBeUndefined();
    } finally {
      await fine.close();
    }
  });
});
