/**
 * A router for end-to-end tests: @apollo/gateway behind Apollo Server, over real HTTP. It
 * refuses supergraphs that use @authenticated/@requiresScopes ("unsupported for SECURITY"), so
 * it gets a variant composed without them: every guard seen through it is a subgraph's own.
 */
import { composeServices } from '@apollo/composition';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { Kind, parse, visit, type DocumentNode } from 'graphql';

const SECURITY_DIRECTIVES = new Set(['authenticated', 'requiresScopes']);

/** The SDL without @authenticated/@requiresScopes, and without importing them. */
export function withoutSecurityDirectives(sdl: string): DocumentNode {
  return visit(parse(sdl), {
    Directive(node) {
      if (SECURITY_DIRECTIVES.has(node.name.value)) return null;
      if (node.name.value !== 'link') return undefined;
      return {
        ...node,
        arguments: node.arguments?.map((arg) =>
          arg.name.value === 'import' && arg.value.kind === Kind.LIST
            ? { ...arg, value: { ...arg.value, values: arg.value.values.filter((v) => !(v.kind === Kind.STRING && SECURITY_DIRECTIVES.has(v.value.slice(1)))) } }
            : arg,
        ),
      };
    },
  });
}

export interface SubgraphService {
  name: string;
  url: string;
  sdl: string;
  /** Headers the router adds to every request to this subgraph (e.g. the gateway's shared secret). */
  headers?: Record<string, string>;
}

export interface Router {
  url: string;
  supergraphSdl: string;
  stop(): Promise<void>;
}

export async function startRouter(services: SubgraphService[]): Promise<Router> {
  const composed = composeServices(services.map((s) => ({ name: s.name, url: s.url, typeDefs: withoutSecurityDirectives(s.sdl) })));
  if (composed.errors) throw new Error(`composition failed: ${composed.errors.map((e) => e.message).join('; ')}`);
  const supergraphSdl = composed.supergraphSdl;
  const byName = new Map(services.map((s) => [s.name, s]));
  // Otherwise @apollo/gateway probes cloud metadata addresses and exports usage metrics to
  // Apollo's servers: tests stay on loopback.
  process.env.APOLLO_TELEMETRY_DISABLED = 'true';
  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ name, url }) =>
      new RemoteGraphQLDataSource<{ authorization?: string }>({
        url,
        willSendRequest({ request, context }) {
          // The client's token travels on; the router's own secret is added per subgraph.
          if (context.authorization) request.http?.headers.set('authorization', context.authorization);
          for (const [key, value] of Object.entries(byName.get(name!)?.headers ?? {})) request.http?.headers.set(key, value);
        },
      }),
  });
  const server = new ApolloServer({ gateway });
  const { url } = await startStandaloneServer(server, {
    listen: { port: 0, host: '127.0.0.1' },
    context: async ({ req }) => ({ authorization: req.headers.authorization }),
  });
  return { url, supergraphSdl, stop: () => server.stop() };
}

