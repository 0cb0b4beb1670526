/**
 * The baseline: a bare @apollo/server on the gateway's HTTP layer (Fastify with
 * @as-integrations/fastify), answering a trivial query, with no auth, no limits, no logging.
 * Every gateway figure is read against this one, measured in the same run. It also answers the
 * guarded query's shape, `me { id roles }`, with a constant and without checking any token:
 * what that query costs before any auth work.
 */
import { ApolloServer } from '@apollo/server';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import Fastify from 'fastify';

const port = Number(process.env.BENCH_BARE_PORT);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('BENCH_BARE_PORT must name a free port\n');
  process.exit(1);
}

const ME = { id: '00000000-0000-4000-8000-000000000000', roles: ['user'] };

const app = Fastify();
const apollo = new ApolloServer({
  typeDefs: 'type Query { hello: String! me: Me! } type Me { id: ID! roles: [String!]! }',
  resolvers: { Query: { hello: () => 'world', me: () => ME } },
  plugins: [fastifyApolloDrainPlugin(app)],
});
await apollo.start();
await app.register(fastifyApollo(apollo));
app.get('/ready', async () => 'ok');
await app.listen({ port, host: '127.0.0.1' });

const stop = async () => {
  await app.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
