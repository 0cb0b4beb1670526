/**
 * The ceiling for logins: how many argon2id verifications per second the configured parameters
 * allow at the configured concurrency, measured on this machine while nothing else runs. A
 * login is one verification, so no gateway can log in faster than this.
 */
import * as argon2 from 'argon2';

export interface Argon2BoundOptions {
  memoryKib: number;
  timeCost: number;
  parallelism: number;
  concurrency: number;
  seconds: number;
}

export async function measureArgon2Bound(options: Argon2BoundOptions) {
  const password = 'Bench-Password-2024!';
  const hash = await argon2.hash(password, {
    type: argon2.argon2id,
    memoryCost: options.memoryKib,
    timeCost: options.timeCost,
    parallelism: options.parallelism,
  });
  // Warm the thread pool and the allocator before timing.
  await Promise.all(Array.from({ length: options.concurrency }, () => argon2.verify(hash, password)));
  let done = 0;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      if (!(await argon2.verify(hash, password))) throw new Error('argon2 verification failed');
      done++;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  return { hashesPerSecond: done / elapsed, hashes: done, seconds: elapsed };
}
