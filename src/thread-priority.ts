import { readdirSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { setPriority } from 'node:os';

/** The nice value of libuv's pool threads when PASSWORD_HASH_NICE is unset. */
export const DEFAULT_PASSWORD_HASH_NICE = 10;

/** PASSWORD_HASH_NICE as the launcher needs it, before the settings are checked: invalid is left to loadConfig. */
export function passwordHashNiceFor(env: Record<string, string | undefined>): number | undefined {
  const raw = env.PASSWORD_HASH_NICE;
  if (raw === undefined || raw === '') return DEFAULT_PASSWORD_HASH_NICE;
  const value = Number(raw);
  return Number.isInteger(value) && value >= 0 && value <= 19 ? value : undefined;
}

export type PoolPriority =
  | { applied: true; nice: number; threads: number }
  | { applied: false; nice: number; reason: string };

const threadIds = () => new Set(readdirSync('/proc/self/task').map(Number));

/**
 * Lowers the CPU priority of libuv's thread pool, where argon2 runs: when the cores are all
 * busy, the event loop (every other request) and the processes beside it go first, and hashing
 * gets what is left. Linux only; call it before anything has used the pool.
 *
 * Node names neither the pool nor its threads. libuv starts all of the pool's threads at its
 * first task, so the threads that a first task brings into being are the pool: this runs one
 * (a stat) and lowers exactly those, or, when the count is not the pool's size (the pool was
 * already started, or this is not Linux), nothing.
 */
export async function lowerThreadPoolPriority(nice: number, poolSize: number): Promise<PoolPriority> {
  if (nice === 0) return { applied: false, nice, reason: 'PASSWORD_HASH_NICE is 0' };
  let before: Set<number>;
  try {
    before = threadIds();
  } catch {
    return { applied: false, nice, reason: 'no /proc/self/task (not Linux)' };
  }
  await stat('/');
  const pool = [...threadIds()].filter((id) => !before.has(id));
  if (pool.length !== poolSize) {
    return { applied: false, nice, reason: `found ${pool.length} new threads, expected the pool's ${poolSize}` };
  }
  try {
    for (const id of pool) setPriority(id, nice);
  } catch (error) {
    return { applied: false, nice, reason: `setpriority failed (${(error as NodeJS.ErrnoException).code ?? 'unknown'})` };
  }
  return { applied: true, nice, threads: pool.length };
}

const RECORDED = Symbol.for('graphql-auth-gateway.poolPriority');

/** The launcher hands its outcome to the gateway (another bundle), which logs it. */
export function recordPoolPriority(priority: PoolPriority) {
  (globalThis as Record<symbol, unknown>)[RECORDED] = priority;
}

/** What the launcher did; undefined when the gateway was not started by it (`npm start`). */
export function recordedPoolPriority(): PoolPriority | undefined {
  return (globalThis as Record<symbol, unknown>)[RECORDED] as PoolPriority | undefined;
}
