// Rule: the launcher's PASSWORD_HASH_NICE outcome is logged truthfully: the threads it lowered,
// a warning naming why it could not, and nothing at all for PASSWORD_HASH_NICE=0 (asked for) or
// without the launcher. A pool that is already running is never guessed at: nothing is lowered.
import { readdirSync } from 'node:fs';
import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger';
import { logPoolPriority, lowerThreadPoolPriority, type PoolPriority } from '../src/thread-priority';

/** pino's levels: 30 info, 40 warn. */
function logged(priority: PoolPriority | undefined) {
  const lines: string[] = [];
  logPoolPriority(createLogger('info', { write: (line: string) => void lines.push(line) }), priority);
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>).map(({ level, msg, nice, threads, reason }) => ({ level, msg, nice, threads, reason }));
}

describe('logPoolPriority', () => {
  it('says how many pool threads were lowered, to which nice value', () => {
    expect(logged({ applied: true, nice: 10, threads: 3 })).toEqual([
      { level: 30, msg: "libuv's thread pool (password hashing): threads lowered to PASSWORD_HASH_NICE", nice: 10, threads: 3, reason: undefined },
    ]);
  });

  it('warns with the reason when a nice value could not be applied', () => {
    expect(logged({ applied: false, nice: 10, reason: "found 0 new threads, expected the pool's 3" })).toEqual([
      { level: 40, msg: 'PASSWORD_HASH_NICE could not be applied', nice: undefined, threads: undefined, reason: "found 0 new threads, expected the pool's 3" },
    ]);
  });

  it('says nothing for PASSWORD_HASH_NICE=0, nor when the launcher did not run', async () => {
    expect(logged(await lowerThreadPoolPriority(0, 3))).toEqual([]);
    expect(logged(undefined)).toEqual([]);
  });
});

describe.runIf(process.platform === 'linux')('lowerThreadPoolPriority', () => {
  it('lowers nothing once the pool is running (its threads can no longer be told apart)', async () => {
    const priorities = () => readdirSync('/proc/self/task').map((id) => getPriority(Number(id)));
    // The test runner has used the pool already.
    const before = priorities();
    expect(await lowerThreadPoolPriority(10, 3)).toEqual({ applied: false, nice: 10, reason: "found 0 new threads, expected the pool's 3" });
    expect(priorities()).toEqual(before);
  });

  it('does not touch the pool for 0', async () => {
    expect(await lowerThreadPoolPriority(0, 3)).toEqual({ applied: false, nice: 0, reason: 'PASSWORD_HASH_NICE is 0' });
  });
});
