import { randomFill } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import type { Logger } from 'pino';

/** The nice value of libuv's pool threads when PASSWORD_HASH_NICE is unset. */
export const DEFAULT_PASSWORD_HASH_NICE = 10;

/** PASSWORD_HASH_NICE as the launcher needs it, before the settings are checked: invalid is left to loadConfig. */
export function passwordHashNiceFor(env: Record<string, string | undefined>): number | undefined {
  const raw = env.PASSWORD_HASH_NICE;
  if (raw === undefined || raw === '') return DEFAULT_PASSWORD_HASH_NICE;
  // Decimal digits only, as loadConfig reads it: " 5" or "5.0" is refused there, not applied here.
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  return value >= 0 && value <= 19 ? value : undefined;
}

export type PoolPriority =
  | { applied: true; nice: number; threads: number }
  | { applied: false; nice: number; reason: string };

const threadIds = () => new Set(readdirSync('/proc/self/task').map(Number));

/**
 * Lowers the CPU priority of libuv's thread pool, where argon2 runs, to `nice`: when the
 * event loop's thread (every other request) and a hash compete for a core, the event loop gets
 * most of it. Never raises a priority: a thread already at `nice` or lower priority keeps its
 * own. Call it before anything has used the pool; undefined where this is not Linux.
 *
 * Node names neither the pool nor its threads. libuv starts all of the pool's threads at its
 * first task, so the threads that a first task brings into being are the pool: this runs one
 * (randomFill, which always goes to the pool) and lowers exactly those, or, when their count is
 * not the pool's size (the pool was already started), nothing.
 */
export async function lowerThreadPoolPriority(nice: number, poolSize: number): Promise<PoolPriority | undefined> {
  if (process.platform !== 'linux') return undefined;
  if (nice === 0) return { applied: false, nice, reason: 'PASSWORD_HASH_NICE is 0' };
  try {
    const before = threadIds();
    await new Promise((resolve, reject) => randomFill(Buffer.alloc(1), (error) => (error ? reject(error) : resolve(null))));
    const pool = [...threadIds()].filter((id) => !before.has(id));
    if (pool.length !== poolSize) {
      return { applied: false, nice, reason: `found ${pool.length} new threads, expected the pool's ${poolSize}` };
    }
    let lowered = 0;
    for (const id of pool) {
      if (getPriority(id) >= nice) continue;
      setPriority(id, nice);
      lowered++;
    }
    return { applied: true, nice, threads: lowered };
  } catch (error) {
    return { applied: false, nice, reason: `${(error as NodeJS.ErrnoException).code ?? 'error'} while lowering the pool's priority` };
  }
}

const RECORDED = Symbol.for('graphql-auth-gateway.poolPriority');

/** The launcher hands its outcome to the gateway (another bundle), which logs it. */
export function recordPoolPriority(priority: PoolPriority) {
  (globalThis as Record<symbol, unknown>)[RECORDED] = priority;
}

/** What the launcher did; undefined when the gateway was not started by it (`npm start`) or not on Linux. */
function recordedPoolPriority(): PoolPriority | undefined {
  return (globalThis as Record<symbol, unknown>)[RECORDED] as PoolPriority | undefined;
}

/** Logs what the launcher did with PASSWORD_HASH_NICE: nothing for 0 (asked for) or without the launcher (`npm start`). */
export function logPoolPriority(logger: Logger, priority = recordedPoolPriority()) {
  if (!priority) return;
  if (priority.applied) logger.info({ nice: priority.nice, threads: priority.threads }, "libuv's thread pool (password hashing): threads lowered to PASSWORD_HASH_NICE");
  else if (priority.nice !== 0) logger.warn({ reason: priority.reason }, 'PASSWORD_HASH_NICE could not be applied');
}
