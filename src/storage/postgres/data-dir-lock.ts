import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { StartupRefusal } from '../../failure';

/**
 * PGlite holds the database in the memory of the process that opened it and writes it back to
 * DATA_DIR: a second process on the same folder (a second gateway, an admin command beside the
 * server) would work on a copy of its own, and the writes of one of them would be lost. So the
 * folder is locked by a file naming its owner, `pid@host`, put in place only if absent (a link:
 * nobody ever sees it half written). A lock of this host whose process is gone (a crash,
 * SIGKILL; or this very pid in an earlier life, as in a restarted container) is taken over. One
 * of another host (another machine or container sharing the folder, whose processes this one
 * cannot see) is never taken over: the message says to delete it once that process is gone.
 * (Two processes taking over one stale lock at the same instant could both succeed: a crash
 * followed by two starts at once.) Returns the release.
 */
export function lockDataDir(dataDir: string): () => void {
  const file = path.resolve(dataDir, LOCK_FILE);
  const mine = `${process.pid}@${hostname()}`;
  for (;;) {
    if (create(file, mine)) {
      heldHere.add(file);
      return () => {
        heldHere.delete(file);
        try {
          if (readFileSync(file, 'utf8') === mine) unlinkSync(file);
        } catch {
          // already gone
        }
      };
    }
    const owner = readOwner(file);
    if (owner && isHeld(owner, file)) {
      const where = owner.host === hostname() ? '' : ` on host ${owner.host} (another machine or container sharing the folder)`;
      throw new StartupRefusal(
        `the embedded database in ${path.resolve(dataDir)} is in use by process ${owner.pid}${where} (a gateway or an admin command; PGlite serves one process at a time): stop it first, or use another DATA_DIR (if process ${owner.pid} is gone, delete ${LOCK_FILE} there)`,
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

/** Writes `content` to a file of its own, then links it in as `file`: false when `file` exists. */
function create(file: string, content: string) {
  const draft = `${file}.${randomBytes(6).toString('hex')}`;
  writeFileSync(draft, content, { flag: 'wx' });
  try {
    linkSync(draft, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(draft);
  }
}

/** The owner a lock names; undefined for one that is gone or names nobody (taken over). */
function readOwner(file: string): { pid: number; host: string } | undefined {
  try {
    const [, pid, host] = /^(\d+)@(.+)$/.exec(readFileSync(file, 'utf8').trim()) ?? [];
    return pid && host ? { pid: Number(pid), host } : undefined;
  } catch {
    return undefined;
  }
}

function isHeld(owner: { pid: number; host: string }, file: string) {
  if (owner.host !== hostname()) return true;
  if (owner.pid === process.pid) return heldHere.has(file);
  // Signal 0 only asks whether the process exists; EPERM: it does, under another user.
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
