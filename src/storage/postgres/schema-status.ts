/**
 * Which of drizzle/'s migrations a database lacks, read from drizzle's own record of what it
 * applied (`drizzle.__drizzle_migrations`: each migration's SHA-256 and its journal time).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { migrationsFolder, queryRows, type Db } from './client';

export interface SchemaStatus {
  /**
   * Migrations of this version that `npm run db:migrate` would apply, by tag: drizzle's migrator
   * applies those journalled after the latest one the database records.
   */
  pending: string[];
  /** Applied migrations that match no file of this version (a newer version migrated, or a file was edited since). */
  unrecognised: number;
}

export async function readSchemaStatus(db: Db): Promise<SchemaStatus> {
  const journal = JSON.parse(readFileSync(path.join(migrationsFolder, 'meta/_journal.json'), 'utf8')) as {
    entries: Array<{ tag: string }>;
  };
  const files = readMigrationFiles({ migrationsFolder }).map((m, i) => ({ ...m, tag: journal.entries[i]!.tag }));
  const [table] = await queryRows<{ name: string | null }>(db, sql`SELECT to_regclass('drizzle.__drizzle_migrations')::text AS name`);
  const applied = table?.name
    ? await queryRows<{ hash: string; createdAt: string | null }>(
        db,
        sql`SELECT hash, created_at::text AS "createdAt" FROM drizzle.__drizzle_migrations`,
      )
    : [];
  const latest = Math.max(0, ...applied.map((m) => Number(m.createdAt ?? 0)));
  const known = new Set(files.map((m) => m.hash));
  return {
    pending: files.filter((m) => m.folderMillis > latest).map((m) => m.tag),
    unrecognised: applied.filter((m) => !known.has(m.hash)).length,
  };
}

/**
 * The isolation level a transaction gets when it names none (`default_transaction_isolation`,
 * as the server, the database or the role sets it). The stores rely on read committed, the
 * PostgreSQL default: a row lock's wait re-checks the conditions on what was committed, and a
 * transaction's later statement sees what others committed before it. Under a stricter level
 * those statements fail or miss rows instead.
 */
export async function readDefaultIsolation(db: Db): Promise<string> {
  const [row] = await queryRows<{ transaction_isolation: string }>(db, sql`SHOW transaction_isolation`);
  return row!.transaction_isolation;
}
