/**
 * Where the benchmarked gateway keeps its data: on real PostgreSQL (DATABASE_URL) a database of
 * its own, migrated here and dropped afterwards; otherwise an embedded one in a temporary
 * DATA_DIR, which the gateway migrates itself at start.
 */
import { randomBytes } from 'node:crypto';
import { openPostgres } from '../src/storage/postgres';

export interface BenchDatabase {
  kind: 'postgres' | 'embedded';
  /** The settings the gateway needs to reach it. */
  env: Record<string, string>;
  drop(): Promise<void>;
}

const withDatabase = (url: string, database: string) => {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
};

export async function createBenchDatabase(databaseUrl: string | undefined, dataDir: string): Promise<BenchDatabase> {
  if (!databaseUrl) return { kind: 'embedded', env: { DATA_DIR: dataDir }, drop: async () => {} };
  const postgres = (await import('postgres')).default;
  const admin = postgres(withDatabase(databaseUrl, 'postgres'), { max: 1, onnotice: () => {} });
  const name = `gateway_bench_${randomBytes(6).toString('hex')}`;
  await admin.unsafe(`CREATE DATABASE "${name}"`);
  const url = withDatabase(databaseUrl, name);
  const database = await openPostgres(url, { max: 1 });
  try {
    await database.migrate();
  } finally {
    await database.close();
  }
  return {
    kind: 'postgres',
    env: { DATABASE_URL: url },
    drop: async () => {
      await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    },
  };
}
