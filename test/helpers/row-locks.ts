import { sql, type SQL } from 'drizzle-orm';
import { expect } from 'vitest';
import type { TestGateway } from './gateway';

/**
 * Holds `lock` (a statement taking row locks) in a transaction of its own until the function it
 * returns is called. PostgreSQL only: PGlite has one connection, which the lock would hold.
 */
export async function holdingRowLock(gw: TestGateway, lock: SQL) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const holder = gw.database.db.transaction(async (tx) => {
    await tx.execute(lock);
    locked();
    await released;
  });
  await isLocked;
  return async () => {
    release();
    await holder;
  };
}

/** The one backend of the test's database waiting for a lock, once there is one. */
export async function waitingBackend(gw: TestGateway) {
  let pid: number | undefined;
  await expect
    .poll(
      async () => {
        const rows = (await gw.database.db.execute(
          sql`select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
        )) as unknown as Array<{ pid: number }>;
        pid = rows[0]?.pid;
        return rows.length;
      },
      { timeout: 10_000 },
    )
    .toBe(1);
  return pid!;
}

/** Cancels the statement that waits for a lock, as a statement_timeout, a deadlock or a lost connection would end it. */
export async function cancelWaitingStatement(gw: TestGateway) {
  await gw.database.db.execute(sql`select pg_cancel_backend(${await waitingBackend(gw)})`);
}
