import type { FastifyInstance } from 'fastify';
import type { KeyRing } from '../domain/tokens';

/** The public signing keys (public members only), for anyone who verifies the gateway's JWTs. */
export function registerJwksRoute(app: FastifyInstance, keys: () => KeyRing) {
  app.get('/.well-known/jwks.json', async (_request, reply) => {
    return reply.header('cache-control', 'public, max-age=300').send(keys().jwks);
  });
}
