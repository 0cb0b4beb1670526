import { availableParallelism } from 'node:os';

/** Node's own size for libuv's thread pool. */
export const NODE_THREAD_POOL_SIZE = 4;

/**
 * Half the cores hash passwords, the other half serve everything else (a login storm must not
 * starve the guarded queries), and one thread of libuv's pool stays free for the rest.
 */
export function defaultHashConcurrency(threadPoolSize: number, cores = availableParallelism()) {
  return Math.max(1, Math.min(Math.floor(cores / 2), threadPoolSize - 1));
}

/**
 * The size for libuv's thread pool when UV_THREADPOOL_SIZE is unset: one thread per password
 * hash allowed at once, plus one for everything else there (JWT verification on a cache miss,
 * DNS lookups, file reads). With Node's four, argon2's runs wander over all four threads, and
 * glibc keeps a hash's memory (ARGON2_MEMORY_KIB, 19 MiB by default) in the arena of every
 * thread that ever ran one: on a 2-core machine, about 40 MB more for good.
 */
export function threadPoolSizeFor(env: Record<string, string | undefined>): number | undefined {
  if (env.UV_THREADPOOL_SIZE) return undefined;
  const raw = env.PASSWORD_HASH_CONCURRENCY ?? '';
  const configured = /^\d+$/.test(raw) ? Number(raw) : 0;
  // An invalid value is left for loadConfig to refuse, naming the setting.
  const hashes = configured >= 1 ? configured : defaultHashConcurrency(NODE_THREAD_POOL_SIZE);
  return hashes + 1;
}
