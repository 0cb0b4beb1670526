// Rule: a gateway process opens at most DATABASE_POOL_SIZE connections to PostgreSQL, however
// many requests need the database at once.
import { afterAll, describe, expect, it } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { RefreshDocument } from '../gql/graphql';
import { codeOf } from '../helpers/fixtures';
import { childEnv, createNamedDatabase, freePort, gqlAt, spawnTsx } from '../helpers/processes';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) console.log('skipping database-pool tests: they need DATABASE_URL (PGlite has no pool)');

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe.skipIf(!databaseUrl)('DATABASE_POOL_SIZE', () => {
  it('bounds the connections a burst of database work opens', { timeout: 90_000 }, async () => {
    const database = await createNamedDatabase({ migrated: true });
    cleanups.push(() => database.drop());
    const port = await freePort();
    const child = spawnTsx(
      'src/main.ts',
      [],
      childEnv({
        ...database.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'warn',
        PORT: String(port),
        ENCRYPTION_KEYS: generateEncryptionKeyEntry('k1'),
        REFRESH_LIMIT_IP: '1000/60',
        DATABASE_POOL_SIZE: '1',
      }),
    );
    cleanups.push(() => child.killAll());
    await child.waitFor(/ready at http/, 60_000);

    // Each unknown refresh token costs two statements (the rotation, then a look at the token).
    const url = `http://127.0.0.1:${port}/graphql`;
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => gqlAt(url, RefreshDocument, { refreshToken: `unknown-token-${i}`.padEnd(43, 'x') })),
    );
    expect(answers.map(codeOf)).toEqual(Array(40).fill('INVALID_TOKEN'));

    const [row] = (await database.admin(
      // Client backends only: an autovacuum worker visiting the database is not the gateway's.
      `SELECT count(*)::int AS connections FROM pg_stat_activity WHERE datname = '${database.name}' AND backend_type = 'client backend'`,
    )) as Array<{ connections: number }>;
    expect(row!.connections).toBe(1);
  });
});
