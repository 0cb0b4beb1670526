import type { FastifyInstance } from 'fastify';
import { ErrorCode } from '../errors';

/** Where the rate-limit counters live, as /readyz reports it: the last two are degraded (Redis unreachable, or refusing the counters' commands). */
export const RATE_LIMIT_MODES = ['redis', 'memory', 'memory-fallback', 'redis-down'] as const;
export type RateLimitMode = (typeof RATE_LIMIT_MODES)[number];
const isDegraded = (mode: RateLimitMode) => mode === 'memory-fallback' || mode === 'redis-down';

/** How long /readyz waits for the database before it answers 503. */
export const READY_TIMEOUT_MS = 2000;

/**
 * /healthz: the process answers. /readyz: the database answers too (503 only when it does not,
 * or not within READY_TIMEOUT_MS: a database that stalls without closing its connections). A
 * Redis outage is reported in the body but keeps 200: limits then run on their fallback, and
 * a 503 would drain every instance during a Redis blip.
 */
export function registerHealthRoutes(app: FastifyInstance, pingDatabase: () => Promise<void>, rateLimitMode: () => RateLimitMode) {
  // While the database stalls, probes share the ping still within its time, rather than each
  // leaving another `select 1` waiting; one past it is left behind (it may wait on a connection
  // that never answers again), and the next probe asks anew, maybe on another connection.
  let pinging: { answered: Promise<void>; since: number } | undefined;
  const ping = () => {
    if (!pinging || performance.now() - pinging.since >= READY_TIMEOUT_MS) {
      const current: NonNullable<typeof pinging> = {
        answered: pingDatabase().finally(() => {
          if (pinging === current) pinging = undefined;
        }),
        since: performance.now(),
      };
      pinging = current;
    }
    return pinging.answered;
  };
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        ping(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no answer in time')), READY_TIMEOUT_MS))),
      ]);
      const rateLimits = rateLimitMode();
      return { status: 'ready', rateLimits, degraded: isDegraded(rateLimits) };
    } catch {
      return reply.code(503).send({ status: 'unavailable', code: ErrorCode.SERVICE_UNAVAILABLE, rateLimits: rateLimitMode(), degraded: true });
    } finally {
      clearTimeout(timer);
    }
  });
}
