import type { FastifyInstance } from 'fastify';
import { ErrorCode } from '../errors';

/**
 * /healthz: the process answers. /readyz: the database answers too (503 only when it does not).
 * A Redis outage is reported in the body but keeps 200: limits then run on their fallback, and
 * a 503 would drain every instance during a Redis blip.
 */
export function registerHealthRoutes(app: FastifyInstance, pingDatabase: () => Promise<void>, rateLimitMode: () => string) {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await pingDatabase();
      const rateLimits = rateLimitMode();
      return { status: 'ready', rateLimits, degraded: rateLimits === 'memory-fallback' || rateLimits === 'redis-down' };
    } catch {
      return reply.code(503).send({ status: 'unavailable', code: ErrorCode.SERVICE_UNAVAILABLE, rateLimits: rateLimitMode(), degraded: true });
    }
  });
}
