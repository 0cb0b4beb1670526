/**
 * The production entry point (`npm run start:prod`), built as CommonJS: libuv reads
 * UV_THREADPOOL_SIZE once, at the pool's first task, and loading an ES module is already such a
 * task. So this sizes the pool first, then loads the gateway's bundle beside it.
 */
import { threadPoolSizeFor } from './thread-pool';

// The production entry point is production unless told otherwise: the development shortcuts
// (embedded database, generated keys, in-memory limits) stay behind an explicit NODE_ENV.
process.env.NODE_ENV ??= 'production';
const size = threadPoolSizeFor(process.env);
if (size !== undefined) process.env.UV_THREADPOOL_SIZE = String(size);
// @ts-expect-error: dist/gateway.js, the bundle `npm run build` writes beside the built launcher
void import('./gateway.js');
