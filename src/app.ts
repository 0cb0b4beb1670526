/**
 * The HTTP face: Fastify with Apollo Server on /graphql and the routes beside it. Built from
 * already-composed dependencies, so tests get the exact app that `npm start` serves.
 */
import fastifyApollo from '@as-integrations/fastify';
import fastifyCors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config';
import type { AuthDeps } from './domain/auth';
import { gatewaySchema, printGatewaySchema } from './graphql/schema';
import { startGraphqlServer } from './graphql/server';
import { createHttpApp } from './http/base-app';
import { refuseOtherMethods } from './http/errors';
import { registerHealthRoutes, type RateLimitMode } from './http/health';
import type { GatewayMetrics } from './http/metrics';
import { registerJwksRoutes } from './http/jwks';
import { registerPlaygroundOffNotice, registerPlaygroundRoutes } from './http/playground';
import { REFRESH_TRANSPORT_HEADER } from './http/refresh-cookie';
import { requestContext } from './http/request-context';

export interface AppOptions {
  config: Config;
  deps: AuthDeps;
  logger: Logger;
  pingDatabase: () => Promise<void>;
  /** Where rate limits live right now, reported by /readyz. */
  rateLimitMode: () => RateLimitMode;
  metrics?: GatewayMetrics | undefined;
}

export async function createApp({ config, deps, logger, pingDatabase, rateLimitMode, metrics }: AppOptions): Promise<FastifyInstance> {
  const app = await createHttpApp(config, logger, { answered: metrics?.answeredOn('public') });
  if (config.corsOrigins.length > 0) {
    const allowed = new Set(config.corsOrigins);
    await app.register(fastifyCors, {
      // A function rather than the list: for an origin not listed (or none) @fastify/cors then
      // adds no CORS header at all; given the list, it still sent the credentials, methods and
      // headers it allows to anyone who asked.
      origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
      credentials: true,
      methods: ['GET', 'POST'],
      allowedHeaders: [
        'content-type',
        'authorization',
        'apollo-require-preflight',
        'x-apollo-operation-name',
        'x-request-id',
        REFRESH_TRANSPORT_HEADER,
        // Apollo Client sends these when given a name and version (client awareness).
        'apollographql-client-name',
        'apollographql-client-version',
      ],
      // Page JavaScript may read when to retry (RATE_LIMITED, SERVICE_UNAVAILABLE) and the id
      // to quote from the logs; browsers hide every other response header cross-origin.
      exposedHeaders: ['retry-after', 'x-request-id'],
      // A browser asks again at most every 10 minutes (Chromium caps it at 2 hours).
      maxAge: 600,
      // An OPTIONS that is no preflight (no Origin) is not answered by the plugin as a text/plain
      // 400 outside the error registry, but by the route below.
      strictPreflight: false,
    });
  }

  // Before Apollo's route: their hook answers browsers' GET /graphql, so Apollo never sees them.
  if (config.playground) registerPlaygroundRoutes(app, { schemaSdl: printGatewaySchema() });
  else registerPlaygroundOffNotice(app);

  const apollo = await startGraphqlServer({ app, config, logger, schema: gatewaySchema(), introspection: !config.production, metrics, schemaFile: 'schema.graphql' });
  const context = requestContext(config, deps, config.trustProxy ? 'TRUST_PROXY' : undefined);
  await app.register(fastifyApollo(apollo), { context, method: ['GET', 'POST'] });
  // A preflight from an allowed origin is answered by the CORS plugin. Any other OPTIONS (an
  // origin not listed, CORS_ORIGINS unset, no preflight at all) gets an empty 204 without CORS
  // headers (the browser then says which header is missing), not Apollo's answer to an OPTIONS,
  // a 400 about cross-site request forgery.
  app.options('/graphql', (_request, reply) => void reply.code(204).send());
  refuseOtherMethods(app, '/graphql', 'GET, HEAD, POST, OPTIONS');

  registerHealthRoutes(app, pingDatabase, rateLimitMode);
  registerJwksRoutes(app, () => deps.keys, { issuer: config.jwt.issuer });
  return app;
}
