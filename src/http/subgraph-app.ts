/**
 * The gateway as a Federation 2 subgraph, on its own listener (SUBGRAPH_PORT) so the public
 * /graphql stays exactly schema.graphql. Only the router may call it: every request must carry
 * `x-subgraph-secret: SUBGRAPH_SECRET`. The viewer still comes from the client's bearer token,
 * which the router forwards; the shared secret proves only who relays the request.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import fastifyApollo from '@as-integrations/fastify';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { AuthDeps } from '../domain/auth';
import { ErrorCode, toWire } from '../errors';
import { subgraphSchema } from '../graphql/federation/subgraph-schema';
import { startGraphqlServer } from '../graphql/server';
import { createHttpApp } from './base-app';
import { refuseOtherMethods } from './errors';
import type { GatewayMetrics } from './metrics';
import { requestContext } from './request-context';

export const SUBGRAPH_SECRET_HEADER = 'x-subgraph-secret';

// Digests first, so the comparison takes the same time whatever the lengths.
const digest = (value: string) => createHash('sha256').update(value).digest();

export interface SubgraphAppOptions {
  config: Config;
  deps: AuthDeps;
  logger: Logger;
  settings: NonNullable<Config['subgraph']>;
  metrics?: GatewayMetrics | undefined;
}

/**
 * Client addresses (for the brute-force limits) follow SUBGRAPH_TRUST_PROXY: unset, every
 * client counts as the router; set it so the address a trusted hop added is used instead.
 */
export async function createSubgraphApp({ config, deps, logger, settings, metrics }: SubgraphAppOptions): Promise<FastifyInstance> {
  const { secret } = settings;
  const app = await createHttpApp(config, logger, { trustProxy: settings.trustProxy, answered: metrics?.answeredOn('subgraph') });
  const expected = digest(secret);
  app.addHook('onRequest', async (request, reply) => {
    const given = request.headers[SUBGRAPH_SECRET_HEADER];
    if (typeof given === 'string' && timingSafeEqual(digest(given), expected)) return;
    return reply.code(403).send({ errors: [toWire({ message: 'Only the router may call this listener.', code: ErrorCode.FORBIDDEN })] });
  });
  const apollo = await startGraphqlServer({ app, config, logger, schema: subgraphSchema(), introspection: !config.production, metrics, schemaFile: 'schema.subgraph.graphql' });
  const trusted = config.subgraph?.trustProxy ? 'SUBGRAPH_TRUST_PROXY' : undefined;
  await app.register(fastifyApollo(apollo), { context: requestContext(config, deps, trusted) });
  refuseOtherMethods(app, '/graphql', 'GET, HEAD, POST');
  return app;
}
