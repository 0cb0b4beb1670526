// Rule: on PostgreSQL the gateway never migrates: it refuses to start (and the admin CLI to run) on
// a database that lacks migrations of its version, naming them and telling the operator to run
// `npm run db:migrate`, after which it starts. The embedded database is still migrated at start.
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { openEmbedded, readSchemaStatus, type Database } from '../../src/storage/postgres';
import {
  childEnv,
  createNamedDatabase,
  expectServesAndStops,
  freePort,
  ROOT,
  runTsx,
  spawnTsx,
  tempDir,
  type NamedDatabase,
} from '../helpers/processes';

const TAGS = (JSON.parse(readFileSync(path.join(ROOT, 'drizzle/meta/_journal.json'), 'utf8')) as { entries: Array<{ tag: string }> }).entries.map(
  (e) => e.tag,
);
const READY = /ready at (http:\/\/\S+)/;

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Applies only the first `count` migrations, as an older version's `npm run db:migrate` did. */
async function migrateThrough(database: Database, count: number) {
  const folder = path.join(tempDir('drizzle-older'), 'drizzle');
  cpSync(path.join(ROOT, 'drizzle'), folder, { recursive: true });
  const journalFile = path.join(folder, 'meta/_journal.json');
  const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: unknown[] };
  writeFileSync(journalFile, JSON.stringify({ ...journal, entries: journal.entries.slice(0, count) }));
  try {
    // drizzle's migrators differ only in their types: both run the dialect's migrate on the session.
    await migrate(database.db as never, { migrationsFolder: folder });
  } finally {
    rmSync(path.dirname(folder), { recursive: true, force: true });
  }
}

async function partlyMigrated(count: number) {
  const named = await createNamedDatabase({ migrated: false });
  cleanups.push(() => named.drop());
  const database = await named.open();
  try {
    await migrateThrough(database, count);
  } finally {
    await database.close();
  }
  return named;
}

describe('readSchemaStatus', () => {
  it('names the migrations a database lacks, and counts applied ones this version does not know', async () => {
    const named = await createNamedDatabase({ migrated: false });
    cleanups.push(() => named.drop());
    const database = await named.open();
    try {
      expect(await readSchemaStatus(database.db)).toEqual({ pending: TAGS, unrecognised: 0 });
      await migrateThrough(database, 2);
      expect(await readSchemaStatus(database.db)).toEqual({ pending: TAGS.slice(2), unrecognised: 0 });
      await database.migrate();
      expect(await readSchemaStatus(database.db)).toEqual({ pending: [], unrecognised: 0 });
      // A newer version's migration, journalled after all of these.
      await database.db.execute(sql`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ('newer', ${Date.now() * 2})`);
      expect(await readSchemaStatus(database.db)).toEqual({ pending: [], unrecognised: 1 });
    } finally {
      await database.close();
    }
  }, 60_000);
});

// Only PostgreSQL is left to the operator to migrate.
describe.skipIf(!process.env.DATABASE_URL)('on a PostgreSQL database migrated by an older version', () => {
  const settings = (named: NamedDatabase) => ({ ...named.env, ENCRYPTION_KEYS: generateEncryptionKeyEntry('k1'), LOG_LEVEL: 'warn' });

  it('the server refuses to start, naming what is missing and `npm run db:migrate`; after db:migrate it starts', async () => {
    const named = await partlyMigrated(2);
    const env = settings(named);
    const refused = spawnTsx('src/main.ts', [], childEnv({ ...env, PORT: String(await freePort()) }));
    cleanups.push(() => refused.killAll());
    // A server that starts after all fails here at once (and is stopped by the clean-up).
    expect(await Promise.race([refused.exited, refused.waitFor(READY, 30_000).then(() => 'started', () => refused.exited)])).toBe(1);
    expect(refused.stderr()).toContain(
      `Refusing to start: the database lacks ${TAGS.length - 2} of this version's migrations (${TAGS.slice(2).join(', ')}): run \`npm run db:migrate\` with this DATABASE_URL first`,
    );
    expect(refused.stdout()).not.toMatch(READY);
    // Nothing was changed: the operator migrates.
    const database = await named.open();
    try {
      expect((await readSchemaStatus(database.db)).pending).toEqual(TAGS.slice(2));
    } finally {
      await database.close();
    }

    const admin = await runTsx('src/cli/admin.ts', ['prune'], childEnv(env));
    expect(admin.code).toBe(1);
    expect(admin.stderr).toContain(`admin: the database lacks ${TAGS.length - 2} of this version's migrations`);

    const migrated = await runTsx('src/cli/migrate.ts', [], childEnv(env));
    expect(migrated.code, migrated.stderr).toBe(0);
    await expectServesAndStops(env);
  }, 90_000);

  it('refuses a database that lacks only the newest migration (an upgrade that ships one)', async () => {
    const named = await partlyMigrated(TAGS.length - 1);
    const admin = await runTsx('src/cli/admin.ts', ['prune'], childEnv(settings(named)));
    expect(admin.code).toBe(1);
    expect(admin.stderr).toContain(`admin: the database lacks 1 of this version's migrations (${TAGS.at(-1)}): run \`npm run db:migrate\``);
  }, 60_000);
});

it('the server migrates a partly migrated embedded database itself and starts, as before', async () => {
  const dataDir = tempDir('gateway-older-data');
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const before = await openEmbedded(dataDir);
  try {
    await migrateThrough(before, 2);
  } finally {
    await before.close();
  }
  const env = { DATA_DIR: dataDir, ENCRYPTION_KEYS: generateEncryptionKeyEntry('k1'), LOG_LEVEL: 'warn', PORT: String(await freePort()) };
  const server = spawnTsx('src/main.ts', [], childEnv(env));
  cleanups.push(() => server.killAll());
  await server.waitFor(READY, 60_000);
  server.process.kill('SIGTERM');
  expect(await server.exited).toBe(0);
  const after = await openEmbedded(dataDir);
  try {
    expect(await readSchemaStatus(after.db)).toEqual({ pending: [], unrecognised: 0 });
  } finally {
    await after.close();
  }
}, 90_000);
