import type { FastifyInstance } from 'fastify';
import { ErrorCode } from '../errors';

/** /healthz: the process answers. /readyz: the database answers too (503 only when it does not). */
export function registerHealthRoutes(app: FastifyInstance, pingDatabase: () => Promise<void>) {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await pingDatabase();
      return { status: 'ready' };
    } catch {
      return reply.code(503).send({ status: 'unavailable', code: ErrorCode.SERVICE_UNAVAILABLE });
    }
  });
}
