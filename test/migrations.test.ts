// Rule: drizzle/ holds exactly the migrations for src/storage/postgres/schema.ts, and applying
// them (in-process and through `npm run db:migrate`) to an empty database creates every table.
import { execFile } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { normalizeEmail } from '../src/domain/auth/normalize-email';
import type { Database } from '../src/storage/postgres';
import { queryRows } from '../src/storage/postgres/client';
import { childEnv, createNamedDatabase, ROOT, runTsx, tempDir, type NamedDatabase } from './helpers/processes';

const DRIZZLE_KIT = path.join(ROOT, 'node_modules/.bin/drizzle-kit');
const SCHEMA = path.join(ROOT, 'src/storage/postgres/schema.ts');
const TABLES = ['encryption_key_history', 'mfa_challenges', 'mfa_factors', 'recovery_codes', 'refresh_tokens', 'sessions', 'signing_keys', 'users'];

/** Every file under dir, relative to it, sorted. */
const listing = (dir: string) => (readdirSync(dir, { recursive: true }) as string[]).sort();

/**
 * `drizzle-kit generate` into a copy of drizzle/. Run from the copy's folder: drizzle-kit
 * prefixes `--out` with "./", so an absolute path breaks (and it still exits 0).
 */
async function generateInto(schemaFile: string) {
  const work = tempDir('drizzle-check');
  cpSync(path.join(ROOT, 'drizzle'), path.join(work, 'drizzle'), { recursive: true });
  try {
    const { stdout } = await promisify(execFile)(
      DRIZZLE_KIT,
      ['generate', '--dialect', 'postgresql', '--schema', schemaFile, '--out', 'drizzle'],
      { cwd: work, env: childEnv() },
    );
    return { stdout, files: listing(path.join(work, 'drizzle')) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

describe('drizzle/ against the drizzle schema', () => {
  it('generating from the schema adds no migration', async () => {
    const before = listing(path.join(ROOT, 'drizzle'));
    expect(before.some((f) => f.endsWith('.sql'))).toBe(true);
    const { stdout, files } = await generateInto(SCHEMA);
    expect(files, 'drizzle/ is stale: run `npm run db:generate`').toEqual(before);
    expect(stdout).toContain('No schema changes');
  });

  it('a changed schema does produce a new migration (the check above can fail)', async () => {
    // A copy of the schema with one more column, beside a node_modules link so it resolves drizzle-orm.
    const dir = tempDir('drizzle-schema');
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    const changed = readFileSync(SCHEMA, 'utf8').replace(
      "email: text('email').notNull(),",
      "email: text('email').notNull(),\n    nickname: text('nickname'),",
    );
    expect(changed).toContain('nickname');
    writeFileSync(path.join(dir, 'schema.ts'), changed);
    const { files } = await generateInto(path.join(dir, 'schema.ts')).finally(() =>
      rmSync(dir, { recursive: true, force: true }),
    );
    const added = files.filter((f) => !listing(path.join(ROOT, 'drizzle')).includes(f));
    expect(added.filter((f) => f.endsWith('.sql'))).toHaveLength(1);
  });
});

const created: NamedDatabase[] = [];
afterAll(async () => {
  for (const named of created) await named.drop();
});

const tablesOf = async (database: Database) => {
  const rows = await queryRows<{ table_name: string }>(
    database.db,
    sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
  );
  return rows.map((r) => r.table_name);
};

describe('applying the migrations to an empty database', () => {

  it('`npm run db:migrate` creates users, sessions, refresh_tokens and signing_keys', async () => {
    const named = await createNamedDatabase({ migrated: false });
    created.push(named);
    // PGlite admits one process at a time: the test closes the database while the CLI runs.
    let database = await named.open();
    expect(await tablesOf(database)).toEqual([]);
    await database.close();

    const run = await runTsx('src/cli/migrate.ts', [], childEnv(named.env));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`migrations applied (${named.kind} database): 0000_`);
    // And on stderr which database: host and name, never the credentials.
    const url = named.env.DATABASE_URL ? new URL(named.env.DATABASE_URL) : undefined;
    expect(run.stderr).toContain(
      url
        ? `db:migrate: on PostgreSQL database "${named.name}" at ${url.hostname}:${url.port || '5432'}\n`
        : `db:migrate: on the embedded database in ${named.env.DATA_DIR} (DATABASE_URL is unset: for development only)\n`,
    );
    if (url?.password) expect(run.stderr).not.toContain(url.password);
    const again = await runTsx('src/cli/migrate.ts', [], childEnv(named.env));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`schema up to date, no migration to apply (${named.kind} database)`);
    expect(again.stdout).not.toContain('migrations applied');

    database = await named.open();
    try {
      expect(await tablesOf(database)).toEqual(TABLES);
      await database.migrate(); // applying again is a no-op, not an error
      expect(await tablesOf(database)).toEqual(TABLES);
    } finally {
      await database.close();
    }
  }, 90_000);
});

describe('concurrent migrations (two deployments running `npm run db:migrate` at once)', () => {
  // PGlite admits one process at a time: there is nothing to race.
  it.skipIf(!process.env.DATABASE_URL)('on a fresh PostgreSQL database, two at once both succeed and apply each migration once', async () => {
    const journal = JSON.parse(readFileSync(path.join(ROOT, 'drizzle/meta/_journal.json'), 'utf8')) as { entries: unknown[] };
    // Unserialised, a round failed about two times in three (duplicate key … pg_type_typname_nsp_index).
    for (let round = 0; round < 5; round++) {
      const named = await createNamedDatabase({ migrated: false });
      created.push(named);
      const [a, b] = [await named.open(), await named.open()];
      try {
        const outcomes = await Promise.allSettled([a.migrate(), b.migrate()]);
        expect(outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : 'applied'))).toEqual(['applied', 'applied']);
        // One applied them all, the other none: each says what it did itself.
        const said = outcomes.map((o) => (o.status === 'fulfilled' ? o.value.applied.length : -1)).sort((x, y) => x - y);
        expect(said).toEqual([0, journal.entries.length]);
        expect(await tablesOf(a)).toEqual(TABLES);
        const applied = await queryRows<{ count: number }>(a.db, sql`SELECT count(*)::int AS count FROM drizzle.__drizzle_migrations`);
        expect(applied[0]!.count).toBe(journal.entries.length);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    }
  }, 90_000);

  it.skipIf(!process.env.DATABASE_URL)("keeps the lock through a server's idle_in_transaction_session_timeout", async () => {
    const named = await createNamedDatabase({ migrated: false });
    created.push(named);
    // The lock's transaction idles while the migrations run on another connection.
    const setup = await named.open();
    await setup.db.execute(sql.raw(`ALTER DATABASE "${named.name}" SET idle_in_transaction_session_timeout = '100ms'`));
    await setup.close();
    const database = await named.open();
    try {
      await database.migrate();
      expect(await tablesOf(database)).toEqual(TABLES);
    } finally {
      await database.close();
    }
  }, 90_000);
});

describe('0004: emails stored by earlier versions in another spelling', () => {
  /** drizzle/ as it was up to `tag` (its journal cut there): what an older version migrated to. */
  function migrationsUpTo(tag: string) {
    const dir = tempDir('drizzle-older');
    cpSync(path.join(ROOT, 'drizzle'), dir, { recursive: true });
    const journalFile = path.join(dir, 'meta/_journal.json');
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: Array<{ tag: string }> };
    journal.entries = journal.entries.slice(0, journal.entries.findIndex((e) => e.tag === tag) + 1);
    writeFileSync(journalFile, JSON.stringify(journal));
    return dir;
  }

  async function migrateWith(database: Database, migrationsFolder: string) {
    const { migrate } =
      database.kind === 'postgres' ? await import('drizzle-orm/postgres-js/migrator') : await import('drizzle-orm/pglite/migrator');
    await migrate(database.db as never, { migrationsFolder });
  }

  it('rewrites them in the spelling logins look up, and reports by id those it cannot', async () => {
    const named = await createNamedDatabase({ migrated: false });
    created.push(named);
    const older = migrationsUpTo('0003_pending_mfa_epoch');
    const database = await named.open();
    const ids: Record<string, string> = {};
    try {
      await migrateWith(database, older);
      // As earlier versions stored them (trimmed and lower-cased only).
      const stored = {
        nfd: 'rene\u0301@example.com',
        twinOfNfc: 'zoe\u0308@example.com', // beside its NFC spelling below, an account of its own
        nfc: 'zo\u00eb@example.com',
        firstWide: '\uff4d\uff41\uff58@example.com', // full-width "max"
        secondWide: '\uff4dax@example.com', // also "max", written later
        punycode: 'bob@xn--bcher-kva.example',
        trailingDot: 'ann@example.com.',
        compatibility: '\u210cal@example.com', // NFKC gives a capital H: lower-cased after
        softHyphen: 'a\u00adb@example.com', // no longer a valid address
        numeric: 'x@127.1', // nor this one (a URL parser would read 127.0.0.1)
        plain: 'ada@example.com',
      };
      let at = Date.parse('2026-01-01T00:00:00Z');
      for (const [name, email] of Object.entries(stored)) {
        const [row] = await queryRows<{ id: string }>(
          database.db,
          sql`insert into users (id, email, password_hash, created_at) values (gen_random_uuid(), ${email}, 'x', ${new Date((at += 1000)).toISOString()}) returning id`,
        );
        ids[name] = row!.id;
      }
      const report = await database.migrate();
      const emails = Object.fromEntries(
        (await queryRows<{ id: string; email: string }>(database.db, sql`select id, email from users`)).map((r) => [r.id, r.email]),
      );
      expect(Object.fromEntries(Object.entries(ids).map(([name, id]) => [name, emails[id]]))).toEqual({
        nfd: 'ren\u00e9@example.com',
        twinOfNfc: stored.twinOfNfc,
        nfc: stored.nfc,
        firstWide: 'max@example.com',
        secondWide: stored.secondWide,
        punycode: 'bob@b\u00fccher.example',
        trailingDot: 'ann@example.com',
        compatibility: 'hal@example.com',
        softHyphen: stored.softHyphen,
        numeric: stored.numeric,
        plain: 'ada@example.com',
      });
      expect(report.emails).toEqual({ changed: 5, taken: [ids.twinOfNfc, ids.secondWide], invalid: [ids.softHyphen, ids.numeric] });
      // What the owners type now finds their rows.
      for (const [typed, name] of [['Rene\u0301@Example.com', 'nfd'], ['bob@B\u00fccher.example', 'punycode'], ['ann@example.com', 'trailingDot'], ['HAL@example.com', 'compatibility']]) {
        expect(emails[ids[name!]!], typed).toBe(normalizeEmail(typed!));
      }
      // Again: nothing more to do, the same left over.
      expect(await database.migrate()).toEqual({ applied: [], emails: { changed: 0, taken: [ids.twinOfNfc, ids.secondWide], invalid: [ids.softHyphen, ids.numeric] } });
    } finally {
      await database.close();
      rmSync(older, { recursive: true, force: true });
    }
    // The operator's command names them (by id only) and says what to do.
    const run = await runTsx('src/cli/migrate.ts', [], childEnv(named.env));
    expect(run.code, run.stderr).toBe(0);
    for (const id of [ids.twinOfNfc, ids.secondWide, ids.softHyphen, ids.numeric]) expect(run.stderr).toContain(id);
    expect(run.stderr).toContain('give each another address in SQL');
    expect(run.stderr).not.toContain('example.com');
  }, 60_000);
});
