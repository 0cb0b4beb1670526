// Rule: gateway processes sharing one Redis (and RATE_LIMIT_PREFIX) enforce one budget per
// account: wrong passwords spread over instances count together.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { LoginDocument, RegisterDocument } from '../gql/graphql';
import { codeOf, PASSWORD, uniqueEmail } from '../helpers/fixtures';
import { childEnv, createNamedDatabase, freePort, gqlAt, spawnTsx, type Child } from '../helpers/processes';

const redisUrl = process.env.REDIS_URL;
const databaseUrl = process.env.DATABASE_URL;
if (!redisUrl || !databaseUrl) {
  console.log('skipping shared-budget tests: they need REDIS_URL and DATABASE_URL (two processes cannot share PGlite)');
}

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function startProcess(settings: Record<string, string>) {
  const port = await freePort();
  const child = spawnTsx('src/main.ts', [], childEnv({ ...settings, PORT: String(port) }));
  cleanups.push(() => child.killAll());
  await child.waitFor(/ready at http/, 60_000);
  return { child, url: `http://127.0.0.1:${port}/graphql` };
}

async function stopWithSigterm(child: Child) {
  child.process.kill('SIGTERM');
  expect(await child.exited, child.stderr()).toBe(0);
}

describe.skipIf(!redisUrl || !databaseUrl)('two gateway processes on one Redis', () => {
  it('share one budget per account: the 6th wrong password overall is RATE_LIMITED on either', async () => {
    const database = await createNamedDatabase({ migrated: true });
    cleanups.push(() => database.drop());
    const settings = {
      ...database.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      ENCRYPTION_KEYS: generateEncryptionKeyEntry('k1'),
      REDIS_URL: redisUrl!,
      RATE_LIMIT_PREFIX: `test:shared:${randomBytes(6).toString('hex')}`,
      LOGIN_LIMIT_EMAIL_IP: '5/60',
    };
    const [a, b] = await Promise.all([startProcess(settings), startProcess(settings)]);

    const email = uniqueEmail('shared');
    expect((await gqlAt(a.url, RegisterDocument, { email, password: PASSWORD })).data?.register).toBe(true);
    // Three failures through a, two through b: neither instance alone reaches 5.
    for (let attempt = 1; attempt <= 5; attempt++) {
      const via = attempt % 2 ? a : b;
      const result = await gqlAt(via.url, LoginDocument, { email, password: `wrong-${attempt}` });
      expect(codeOf(result), `attempt ${attempt}`).toBe('INVALID_CREDENTIALS');
    }
    const sixth = await gqlAt(b.url, LoginDocument, { email, password: `wrong-6` });
    expect(codeOf(sixth)).toBe('RATE_LIMITED');
    expect(sixth.errors![0]!.extensions.retryAfter).toBeGreaterThan(0);
    expect(sixth.headers.get('retry-after')).toBe(String(sixth.errors![0]!.extensions.retryAfter));
    // Blocked everywhere, even for the right password.
    expect(codeOf(await gqlAt(a.url, LoginDocument, { email, password: PASSWORD }))).toBe('RATE_LIMITED');

    await Promise.all([stopWithSigterm(a.child), stopWithSigterm(b.child)]);
  }, 120_000);
});
