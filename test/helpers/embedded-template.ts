/**
 * PGlite's initdb and the migrations take seconds of CPU, paid per database. The first test of
 * a run that needs a migrated embedded database makes one, as the gateway does (openEmbedded,
 * migrate, close: DATA_DIR's layout, `pgdata` only, no keys file, no lock), and a tarball of it
 * (PGlite's `dumpDataDir`) for in-memory ones; later tests, in any worker, copy them. Made on
 * first use, not in global-setup: with DATABASE_URL set most test files never need one.
 */
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { inject } from 'vitest';
import { openEmbedded } from '../../src/storage/postgres';

export interface EmbeddedTemplate {
  /** A migrated DATA_DIR, to be copied, never opened. */
  dataDir: string;
  /** The same database as a tarball, for `openEmbedded(undefined, { loadDataDir })`. */
  dump: string;
}

let template: Promise<EmbeddedTemplate> | undefined;

export function embeddedTemplate(): Promise<EmbeddedTemplate> {
  return (template ??= findOrMake(inject('embeddedTemplates')));
}

/**
 * Made in a draft folder, then renamed into place: whoever finds it there uses it. One worker
 * makes it while the others wait (two makes would share the cores for nothing); should it not
 * be there within a minute (that worker gone), they make one after all, and of two workers
 * that both made one, the second one's rename fails and its draft goes.
 */
async function findOrMake(root: string): Promise<EmbeddedTemplate> {
  const done = path.join(root, 'template');
  const made = { dataDir: path.join(done, 'data'), dump: path.join(done, 'pgdata.tar') };
  if (!claim(path.join(root, 'making'))) {
    for (let waited = 0; waited < 60_000 && !existsSync(done); waited += 100) await setTimeout(100);
  }
  if (existsSync(done)) return made;
  const draft = mkdtempSync(path.join(root, 'draft-'));
  try {
    const dataDir = path.join(draft, 'data');
    const database = await openEmbedded(dataDir);
    await database.migrate();
    await database.close();
    const { PGlite } = await import('@electric-sql/pglite');
    const client = new PGlite(path.join(dataDir, 'pgdata'));
    await client.waitReady; // dumpDataDir does not wait for it (the process would end, nothing pending)
    const tarball = await client.dumpDataDir('none');
    await client.close();
    writeFileSync(path.join(draft, 'pgdata.tar'), Buffer.from(await tarball.arrayBuffer()));
    renameSync(draft, done);
  } catch (error) {
    if (!existsSync(done)) throw error;
  } finally {
    rmSync(draft, { recursive: true, force: true });
  }
  return made;
}

/** Whether this call made the folder (mkdir is atomic: of workers racing, one does). */
function claim(folder: string): boolean {
  try {
    mkdirSync(folder);
    return true;
  } catch {
    return false;
  }
}
