/**
 * The HTTP face: Fastify with Apollo Server on /graphql and the routes beside it. Built from
 * already-composed dependencies, so tests get the exact app that `npm start` serves.
 */
import { randomUUID } from 'node:crypto';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import fastifyCookie from '@fastify/cookie';
import fastifyCors from '@fastify/cors';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config';
import type { AuthDeps } from './domain/auth';
import { isInternalAddress } from './domain/throttle';
import { verifyAccessToken } from './domain/tokens';
import { createErrorFormatter } from './graphql/format-error';
import { retryAfterPlugin } from './graphql/plugins/retry-after';
import { oneCredentialMutationPerOperation } from './graphql/validation/one-credential-mutation';
import type { GatewayContext } from './graphql/context';
import { gatewaySchema } from './graphql/schema';
import { registerHttpErrorHandlers } from './http/errors';
import { registerHealthRoutes } from './http/health';
import { registerJwksRoutes } from './http/jwks';
import { refreshCookie } from './http/refresh-cookie';

export const BODY_LIMIT_BYTES = 100 * 1024;
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export interface AppOptions {
  config: Config;
  deps: AuthDeps;
  logger: Logger;
  pingDatabase: () => Promise<void>;
  /** Where rate limits live right now, reported by /readyz. */
  rateLimitMode: () => string;
}

/**
 * request.ip: the socket's address unless TRUST_PROXY names the proxies to believe. A hop count
 * trusts that many nearest hops, provided the connection itself comes from a loopback or
 * private address: a client that reaches the port directly from outside cannot choose its
 * address by sending X-Forwarded-For. (Fastify refuses bare hop counts for that reason.)
 */
function trustProxyOption(setting: Config['trustProxy']) {
  if (typeof setting !== 'number') return setting;
  return (address: string, hop: number) => hop < setting && (hop > 0 || isInternalAddress(address));
}

export async function createApp({ config, deps, logger, pingDatabase, rateLimitMode }: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger,
    // Fastify's two lines per request are replaced by the one below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: trustProxyOption(config.trustProxy),
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
    },
  }) as unknown as FastifyInstance;

  // One line per request; never the query string (a GET operation carries its variables there).
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      { method: request.method, path: request.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });

  registerHttpErrorHandlers(app);
  await app.register(fastifyCookie);
  if (config.corsOrigins.length > 0) {
    await app.register(fastifyCors, {
      origin: config.corsOrigins,
      credentials: true,
      methods: ['GET', 'POST'],
      allowedHeaders: ['content-type', 'authorization', 'apollo-require-preflight', 'x-apollo-operation-name', 'x-request-id'],
    });
  }

  const { maxDepth, maxAliases, maxDirectives, maxTokens, maxCost } = config.graphqlLimits;
  const armor = new ApolloArmor({
    maxDepth: { n: maxDepth },
    maxAliases: { n: maxAliases },
    maxDirectives: { n: maxDirectives },
    // Counted by graphql's own parser instead (parseOptions below): armor's token plugin turns
    // every syntax error into an HTTP 500.
    maxTokens: { enabled: false },
    costLimit: { maxCost },
    blockFieldSuggestion: { enabled: config.production },
  }).protect();
  const apollo = new ApolloServer<GatewayContext>({
    schema: gatewaySchema(),
    introspection: !config.production,
    hideSchemaDetailsFromClientErrors: config.production,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    persistedQueries: false,
    parseOptions: { maxTokens },
    validationRules: [...armor.validationRules, oneCredentialMutationPerOperation],
    logger,
    formatError: createErrorFormatter(logger, { development: config.development }),
    plugins: [...armor.plugins, retryAfterPlugin, fastifyApolloDrainPlugin(app), ApolloServerPluginLandingPageDisabled()],
  });
  await apollo.start();

  const viewerOf = async (request: FastifyRequest) => {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header.trim()) : null;
    if (!match) return null;
    const now = deps.clock.now();
    const claims = await verifyAccessToken(deps.keys, deps.settings.jwt, now, match[1]!, deps.verifiedTokens);
    // A token of a session that has ended is as good as none, though its signature still holds.
    if (!claims || deps.revocations.isRevoked(claims.sessionId, now)) return null;
    return { userId: claims.userId, sessionId: claims.sessionId, roles: claims.roles, amr: claims.amr };
  };

  await app.register(fastifyApollo(apollo), {
    context: async (request, reply) => ({
      requestId: request.id,
      viewer: await viewerOf(request),
      client: { ip: request.ip ?? null, userAgent: request.headers['user-agent'] ?? null },
      deps,
      refreshTransport: config.refresh.transport,
      refreshCookie: refreshCookie(request, reply),
    }),
  });

  registerHealthRoutes(app, pingDatabase, rateLimitMode);
  registerJwksRoutes(app, () => deps.keys, { issuer: config.jwt.issuer, alg: config.jwt.alg });
  return app;
}
