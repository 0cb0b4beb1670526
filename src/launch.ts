/**
 * The production entry point (`npm run start:prod`), built as CommonJS: libuv reads
 * UV_THREADPOOL_SIZE once, at the pool's first task, and loading an ES module is already such a
 * task. So this sizes the pool first and lowers its threads' CPU priority (PASSWORD_HASH_NICE),
 * then loads the gateway's bundle beside it.
 */
import { NODE_THREAD_POOL_SIZE, threadPoolSizeFor } from './thread-pool';
import { lowerThreadPoolPriority, passwordHashNiceFor, recordPoolPriority } from './thread-priority';

// The production entry point is production unless told otherwise: the development shortcuts
// (embedded database, generated keys, in-memory limits) stay behind an explicit NODE_ENV. An
// empty one (`NODE_ENV=` in an env file) tells nothing: the settings treat it as unset, which
// would mean development.
if (!process.env.NODE_ENV) process.env.NODE_ENV = 'production';
const size = threadPoolSizeFor(process.env);
if (size !== undefined) process.env.UV_THREADPOOL_SIZE = String(size);

async function launch() {
  // An invalid value is left for loadConfig to refuse, naming the setting.
  const nice = passwordHashNiceFor(process.env);
  const poolSize = Number(process.env.UV_THREADPOOL_SIZE ?? NODE_THREAD_POOL_SIZE);
  const priority = nice === undefined ? undefined : await lowerThreadPoolPriority(nice, poolSize);
  if (priority) recordPoolPriority(priority);
  // @ts-expect-error: dist/gateway.js, the bundle `npm run build` writes beside the built launcher
  await import('./gateway.js');
}

// A bundle or dependency missing from the deployment: one line, as for any start that cannot go on.
launch().catch((error: unknown) => {
  const reason = error instanceof Error ? `${error.name}${'code' in error ? ` (${String(error.code)})` : ''}: ${error.message.split('\n')[0]}` : String(error);
  process.stderr.write(`Failed to start: ${reason}\n`);
  process.exit(1);
});
