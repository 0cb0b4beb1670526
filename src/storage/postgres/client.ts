/**
 * Opens the database: postgres.js when DATABASE_URL is set, otherwise embedded PGlite under
 * DATA_DIR. Both give the same drizzle API; `rowsOf` hides the one place where they differ.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { sql, TransactionRollbackError, type SQL } from 'drizzle-orm';
import { PgDialect, type PgDatabase, type PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { Sql } from 'postgres';
import { projectRoot } from '../../paths';
import { canonicalizeStoredEmails, type CanonicalEmailsReport } from './canonical-emails';
import { lockDataDir } from './data-dir-lock';
import { readSchemaStatus } from './schema-status';
import * as schema from './schema';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  db: Db;
  kind: 'postgres' | 'embedded';
  /** The schema's migrations, then the stored emails' spelling (canonicalizeStoredEmails). */
  migrate(): Promise<MigrationReport>;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface MigrationReport {
  /** The migrations this run applied, by tag (read under the migration lock: a run beside it applied the others). */
  applied: string[];
  emails: CanonicalEmailsReport;
}

/** The driver's migrator, then the emails' spelling; what was pending is read first. */
async function migrateAndReport(orm: Db, migrate: (orm: Db) => Promise<void>): Promise<MigrationReport> {
  const { pending } = await readSchemaStatus(orm);
  await migrate(orm);
  return { applied: pending, emails: await canonicalizeStoredEmails(orm) };
}

export const migrationsFolder = path.join(projectRoot, 'drizzle');

// Any constant works; it only has to be the same in every process that migrates (and differ
// from the signing keys' lock).
const MIGRATION_LOCK = 0x67776d67;

/**
 * Seconds a closed connection waits before its next connect, after `retries` failed ones: postgres.js's
 * own curve (3^retries / 100, jittered) capped at 1 s instead of 20 s. A statement that finds no
 * open connection waits for one to connect, and connect_timeout starts only after this delay: under
 * the default, a few seconds of outage put every connect 10-20 s apart, so statements queued
 * meanwhile waited that long per attempt, through later outages and for up to 20 s after Postgres
 * was back (one connection, three 10 s outages: requests answered after 48 s). postgres.js 3.4.9
 * also never resets the count after a connection dropped mid-statement (the old backend's 57P01 is
 * replayed onto the reconnected connection's first statement), so the cap is what bounds it then.
 * At most one connect per connection per second against a server that refuses them costs nothing.
 */
const reconnectDelay = (retries: number) => (0.5 + Math.random() / 2) * Math.min(3 ** retries / 100, 1);

/** `max`: connections at most (DATABASE_POOL_SIZE for the gateway). */
export async function openPostgres(url: string, options: { max: number }): Promise<Database> {
  const { default: postgres } = await import('postgres');
  const { drizzle } = await import('drizzle-orm/postgres-js');
  const { migrate } = await import('drizzle-orm/postgres-js/migrator');
  const client = postgres(url, {
    max: options.max,
    onnotice: () => {},
    // A request fails within seconds, not minutes, when Postgres cannot be reached.
    connect_timeout: 5,
    idle_timeout: 60,
    backoff: reconnectDelay,
    // postgres.js would otherwise ask the catalog for the array types on every new connection,
    // and drop that query's promise: one the server fails or cuts (a statement timeout, a
    // pooler's query_wait_timeout, a restart at that moment) is an unhandled rejection, which
    // ends the process. The stores need none of it: drizzle reads and writes its array columns
    // as text, and raw statements return arrays as JSON.
    fetch_types: false,
    // No startup parameters beyond the protocol's own: a pooler in transaction mode (PgBouncer)
    // refuses every connection that sends one it does not know. The isolation the stores rely
    // on is checked at start instead (readDefaultIsolation, from bootstrap).
  });
  // drizzle asks postgres.js to prepare only the queries it was given a name for. Every statement
  // here is a fixed text with bound parameters, so all of them are prepared, once per connection:
  // Postgres then plans a rotation once instead of on every refresh.
  const preparing = new Proxy(client, {
    get(target, key, receiver) {
      if (key !== 'unsafe') return Reflect.get(target, key, receiver);
      return (query: string, params?: unknown[], options?: object) =>
        target.unsafe(query, params as never, { ...options, prepare: true });
    },
  });
  const orm = drizzle(preparing, { schema });
  return {
    db: orm as unknown as Db,
    kind: 'postgres',
    migrate: () =>
      underMigrationLock(postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5, fetch_types: false }), () =>
        migrateAndReport(orm as unknown as Db, () => migrate(orm, { migrationsFolder })),
      ),
    ping: async () => {
      await client`select 1`;
    },
    close: () => client.end({ timeout: 5 }),
  };
}

/**
 * Runs `work` (drizzle's migrator, then the emails' spelling) while this process holds the migration lock, so that
 * concurrent `npm run db:migrate` runs (two deployments at once) migrate one after the other.
 * Unserialised, the migrator's `CREATE SCHEMA / TABLE IF NOT EXISTS` race (duplicate key …
 * pg_type_typname_nsp_index), and both read the last applied migration before either applies
 * the next. The lock is PostgreSQL's transaction-level advisory lock, taken in a transaction
 * that stays open on a connection of its own (`lock`, closed here) until the work is done: it
 * ends with that transaction whatever happens, also behind a pooler in transaction mode.
 */
async function underMigrationLock<T>(lock: Sql, work: () => Promise<T>): Promise<T> {
  try {
    let result!: T;
    await lock.begin(async (tx) => {
      // The transaction idles while the migrations run elsewhere: a server's
      // idle_in_transaction_session_timeout must not end it (and the lock with it) meanwhile.
      // LOCAL, in the transaction: a session setting would outlive it on a pooler's connection,
      // and reach whoever uses that next (nor would a startup parameter do: a pooler in
      // transaction mode refuses the connection). Only a timeout shorter than one round trip could
      // end the transaction before this runs.
      await tx`set local idle_in_transaction_session_timeout = 0`;
      await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK})`;
      result = await work();
    });
    return result;
  } finally {
    await lock.end({ timeout: 5 });
  }
}

/**
 * dataDir undefined: an in-memory database (tests without DATABASE_URL). `loadDataDir`, for an
 * in-memory one only: it starts as a copy of that tarball (PGlite's `dumpDataDir`) instead of
 * an empty cluster, which spares initdb (tests load a migrated one).
 */
export async function openEmbedded(dataDir: string | undefined, options: { loadDataDir?: Blob } = {}): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  let client;
  let unlock = () => {};
  if (dataDir) {
    const dir = path.resolve(dataDir, 'pgdata');
    // PGlite does not create parent folders.
    mkdirSync(dir, { recursive: true });
    unlock = lockDataDir(dataDir);
    try {
      client = new PGlite(dir);
      await client.waitReady;
    } catch (error) {
      unlock();
      throw error;
    }
  } else {
    client = new PGlite({ loadDataDir: options.loadDataDir });
    await client.waitReady;
  }
  const orm = drizzle(client, { schema });
  return {
    db: orm as unknown as Db,
    kind: 'embedded',
    // No migration lock: the folder's lock admits one process, so no other can migrate beside this one.
    migrate: () => migrateAndReport(orm as unknown as Db, () => migrate(orm, { migrationsFolder })),
    ping: async () => {
      await client.query('select 1');
    },
    close: async () => {
      try {
        await client.close();
      } finally {
        unlock();
      }
    },
  };
}

/** Rows of a raw statement: postgres.js returns an array, PGlite an object with `rows`. */
const rowsOf = <T>(result: unknown) => (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];

/** Rows of a raw `db.execute`. */
export async function queryRows<T>(db: Db, query: SQL): Promise<T[]> {
  return rowsOf<T>(await db.execute(query));
}

/**
 * A raw statement whose text is built once, for the hot paths. drizzle builds a `sql` template
 * into text and parameters on every `db.execute` (in a CPU profile, a tenth of a refresh's event
 * loop), so this one is built at start with `sql.placeholder`s, and a call gives their values.
 * It runs as `db.execute` runs a query (drizzle 0.45's PgDatabase.execute: the session's
 * prepareQuery, then execute); check that this still holds when drizzle is upgraded.
 */
export function preparedQuery<T>(db: Db, name: string, query: SQL): (values: Record<string, unknown>) => Promise<T[]> {
  const prepared = db._.session.prepareQuery(new PgDialect().sqlToQuery(query), undefined, name, false);
  return async (values) => rowsOf<T>(await prepared.execute(values));
}

/** A timestamp as epoch milliseconds, so raw queries read it the same on both drivers. */
export const epochMs = (column: string) => sql.raw(`(extract(epoch from ${column}) * 1000)::float8`);

export const ts = (date: Date) => sql`${date.toISOString()}::timestamptz`;

/** A timestamp placeholder of a prepared query: its value is an ISO string (`Date.toISOString()`). */
export const tsPlaceholder = (name: string) => sql`${sql.placeholder(name)}::timestamptz`;

export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** A transaction in which `tx.rollback()` answers `rolledBack` (everything undone) instead of throwing. */
export async function transaction<T, R>(db: Db, rolledBack: R, work: (tx: Tx) => Promise<T>): Promise<T | R> {
  try {
    return await db.transaction(work);
  } catch (error) {
    if (error instanceof TransactionRollbackError) return rolledBack;
    throw error;
  }
}
