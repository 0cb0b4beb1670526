// Rule: one process at a time on an embedded database (DATA_DIR): a second gateway or an admin
// command beside the server is refused, naming the process, instead of working on a copy whose
// writes are lost; the lock goes with its process, and one left by a process that is gone is taken over.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StartupRefusal } from '../../src/failure';
import { openEmbedded } from '../../src/storage/postgres';
import { LOCK_FILE } from '../../src/storage/postgres/data-dir-lock';
import { childEnv, freePort, migratedDataDir, runTsx, spawnTsx, tempDir, type Child } from '../helpers/processes';

const READY = /ready at (http:\/\/\S+)/;
const cleanups: Array<() => void> = [];
afterAll(() => {
  for (const cleanup of cleanups.reverse()) cleanup();
});

/** An empty folder, or (`migrated`: the lock is the subject, not a first start) a migrated DATA_DIR. */
const dataDir = async (prefix: string, options: { migrated: boolean }) => {
  const dir = options.migrated ? await migratedDataDir(prefix) : tempDir(prefix);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

async function startServer(dir: string): Promise<Child> {
  const child = spawnTsx('src/main.ts', [], childEnv({ DATA_DIR: dir, PORT: String(await freePort()), LOG_LEVEL: 'warn' }));
  cleanups.push(() => child.killAll());
  return child;
}

/** The pid of a process that has just ended. */
const goneProcess = () => spawnSync(process.execPath, ['-e', '']).pid!;

describe('the embedded database', () => {
  it('refuses a second gateway and an admin command while a gateway runs on it, and admits them once it has stopped', async () => {
    const dir = await dataDir('gateway-lock', { migrated: true });
    const first = await startServer(dir);
    await first.waitFor(READY, 90_000);
    const pid = first.process.pid!;

    const second = await startServer(dir);
    const admin = await runTsx('src/cli/admin.ts', ['keys', 'list'], childEnv({ DATA_DIR: dir }));
    expect(await second.exited).toBe(1);
    const inUse = `the embedded database in ${path.resolve(dir)} is in use by process ${pid}`;
    expect(second.stderr()).toContain(`Refusing to start: ${inUse}`);
    expect(second.stdout()).not.toMatch(READY);
    expect(admin.code).toBe(1);
    expect(admin.stderr).toContain(`admin: ${inUse}`);
    expect(admin.stdout).toBe('');

    first.process.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    const after = await runTsx('src/cli/admin.ts', ['keys', 'list'], childEnv({ DATA_DIR: dir }));
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toMatch(/ES256 +signing/);
  }, 180_000);

  it('is held by one opening at a time within a process too', async () => {
    const dir = await dataDir('gateway-lock-inproc', { migrated: true });
    const database = await openEmbedded(dir);
    const refused = await openEmbedded(dir).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(StartupRefusal);
    expect((refused as Error).message).toContain(`is in use by process ${process.pid}`);
    await database.close();
    const again = await openEmbedded(dir);
    await again.close();
  }, 60_000);

  it('takes over a lock of this host whose process is gone, or that names this pid from an earlier life', async () => {
    for (const stale of [`${goneProcess()}@${hostname()}`, `${process.pid}@${hostname()}`, 'garbage', '']) {
      const dir = await dataDir('gateway-lock-stale', { migrated: true });
      writeFileSync(path.join(dir, LOCK_FILE), stale);
      const database = await openEmbedded(dir);
      await database.close();
      expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    }
  }, 60_000);

  it("never takes over another host's lock (a container sharing the folder, whose processes it cannot see)", async () => {
    const dir = await dataDir('gateway-lock-host', { migrated: false });
    writeFileSync(path.join(dir, LOCK_FILE), `${goneProcess()}@other-container`);
    const refused = await openEmbedded(dir).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(StartupRefusal);
    expect((refused as Error).message).toContain('on host other-container (another machine or container sharing the folder)');
    expect(readdirSync(dir).sort()).toEqual([LOCK_FILE, 'pgdata']); // no draft left beside it
  }, 60_000);
});
