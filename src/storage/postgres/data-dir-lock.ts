import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StartupRefusal } from '../../failure';

/**
 * PGlite holds the database in the memory of the process that opened it and writes it back to
 * DATA_DIR: a second process on the same folder (a second gateway, an admin command beside the
 * server) would work on a copy of its own, and the writes of one of them would be lost. So the
 * folder is locked by a file holding the owner's pid, created only if absent. A lock left by a
 * process that is gone (a crash, SIGKILL; or this pid in an earlier life, as in a restarted
 * container) is taken over. (Two processes taking over one stale lock at the same instant could
 * both succeed: a crash followed by two starts at once.) Returns the release.
 */
export function lockDataDir(dataDir: string): () => void {
  const file = path.resolve(dataDir, LOCK_FILE);
  const mine = String(process.pid);
  for (;;) {
    try {
      writeFileSync(file, mine, { flag: 'wx' });
      heldHere.add(file);
      return () => {
        heldHere.delete(file);
        try {
          if (readFileSync(file, 'utf8') === mine) unlinkSync(file);
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = readOwner(file);
    const held = owner === process.pid ? heldHere.has(file) : owner !== undefined && isRunning(owner);
    if (held) {
      throw new StartupRefusal(
        `the embedded database in ${path.resolve(dataDir)} is in use by process ${owner} (a gateway or an admin command; PGlite serves one process at a time): stop it first, or use another DATA_DIR (if process ${owner} is no gateway, delete ${LOCK_FILE} there)`,
      );
    }
    try {
      unlinkSync(file); // stale: its process is gone
    } catch {
      // taken over by another process meanwhile: try again
    }
  }
}

export const LOCK_FILE = 'gateway.lock';

/** The locks this process holds: a lock file with our own pid is ours only if it is here. */
const heldHere = new Set<string>();

function readOwner(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Signal 0 only asks whether the process exists; EPERM: it does, under another user. */
function isRunning(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
