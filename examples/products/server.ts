/**
 * An example subgraph (products) that checks the gateway's access tokens itself, with the
 * verifier kit only: no call to the gateway per request, no access to its database. Here the
 * kit is imported from its sources under this repository's name; a subgraph's own project
 * installs the package `npm run build:kit` packs and imports 'graphql-auth-gateway-subgraph'.
 *
 *   GATEWAY_ISSUER=http://localhost:4000 npx tsx examples/products/server.ts
 *
 * Settings: GATEWAY_ISSUER (required: the gateway's JWT_ISSUER), GATEWAY_AUDIENCE (default
 * graphql), PORT (default 4001), REDIS_URL + REVOCATION_PREFIX (optional: the gateway's
 * REDIS_URL and RATE_LIMIT_PREFIX, to refuse revoked sessions at once), KEY_REFETCH_COOLDOWN
 * (seconds, default 30).
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { applyAuthDirectives, createRevocationFeed, createVerifier, serviceUnavailable, type SubgraphViewer } from 'graphql-auth-gateway/subgraph';

interface Context {
  viewer: SubgraphViewer | null;
  /** The token could not be checked for now (no key set fetched yet): guarded fields say so. */
  unavailable: boolean;
}
interface Product {
  id: string;
  name: string;
  price: number;
  cost: number | null;
  ownerId: string;
}

const env = process.env;
if (!env.GATEWAY_ISSUER) throw new Error('GATEWAY_ISSUER is required');
const revocations = env.REDIS_URL ? await createRevocationFeed({ redisUrl: env.REDIS_URL, prefix: env.REVOCATION_PREFIX }) : undefined;
const verifier = createVerifier({
  issuer: env.GATEWAY_ISSUER,
  audience: env.GATEWAY_AUDIENCE ?? 'graphql',
  cooldownSeconds: env.KEY_REFETCH_COOLDOWN ? Number(env.KEY_REFETCH_COOLDOWN) : undefined,
  isRevoked: revocations?.isRevoked,
});

const products = new Map<string, Product>();
const resolvers = {
  Query: {
    products: () => [...products.values()],
    whoami: (_: unknown, __: unknown, { viewer }: Context) => viewer,
  },
  Mutation: {
    addProduct: (_: unknown, args: { name: string; price: number }, { viewer }: Context) => {
      const product = { id: randomUUID(), name: args.name, price: args.price, cost: null, ownerId: viewer!.userId };
      products.set(product.id, product);
      return product;
    },
    setProductCost: (_: unknown, args: { id: string; cost: number }) => {
      const product = products.get(args.id);
      if (product) product.cost = args.cost;
      return product ?? null;
    },
  },
  Product: {
    __resolveReference: (reference: { id: string }) => products.get(reference.id) ?? null,
    owner: (product: Product) => ({ __typename: 'User', id: product.ownerId }),
  },
};

const typeDefs = parse(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));
// @authenticated and @requiresScopes are enforced here too, not only by the router.
const schema = applyAuthDirectives(buildSubgraphSchema([{ typeDefs, resolvers }]), {
  viewerOf: (context: Context) => {
    // Not UNAUTHENTICATED, which would send the client to sign in again: it retries instead.
    if (context.unavailable) throw serviceUnavailable();
    return context.viewer;
  },
});

const server = new ApolloServer<Context>({
  schema,
  // Nothing of the server's insides goes to clients: no stack traces (Apollo sends them outside
  // NODE_ENV=production), no per-resolver timings to a router that asks for inline traces.
  includeStacktraceInErrorResponses: false,
  plugins: [ApolloServerPluginInlineTraceDisabled()],
});
const { url } = await startStandaloneServer(server, {
  listen: { port: Number(env.PORT ?? 4001), host: env.HOST ?? '127.0.0.1' },
  // The token the router forwards; whatever else a client sent about itself is ignored.
  context: async ({ req }) => {
    const result = await verifier.verifyAuthorization(req.headers.authorization);
    return { viewer: result.ok ? result.viewer : null, unavailable: !result.ok && result.reason === 'unavailable' };
  },
});
process.stdout.write(`products subgraph ready at ${url}\n`);

const stop = async () => {
  await server.stop();
  await revocations?.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
