/**
 * One Apollo Server configuration for every listener (the public /graphql and the subgraph
 * listener): the same limits, validation rules, error formatting and drain behaviour.
 */
import { ApolloServer } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { FastifyInstance } from 'fastify';
import { GraphQLError, type GraphQLSchema, type ValidationContext } from 'graphql';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { GatewayContext } from './context';
import { boundedDocumentStore } from './document-store';
import { createErrorFormatter, type ErrorCounter, type SchemaFile } from './format-error';
import { errorsPlugin } from './plugins/errors';
import { knownOperationTypes } from './validation/known-operation-types';
import { oneCredentialMutationPerOperation } from './validation/one-credential-mutation';
import { typenameAliasOnlyForTypename } from './validation/typename-alias';

export interface GraphqlServerOptions {
  app: FastifyInstance;
  config: Config;
  logger: Logger;
  schema: GraphQLSchema;
  introspection: boolean;
  /** Counts the codes clients are answered with (METRICS_PORT). */
  metrics?: ErrorCounter | undefined;
  /** The committed file that holds this listener's schema, named when introspection is off. */
  schemaFile: SchemaFile;
}

function reportLimitExceeded(context: ValidationContext | null, error: GraphQLError) {
  // Only armor's token limit (not used: see maxTokens) rejects outside validation.
  if (!context) throw error;
  context.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, '')));
}

export async function startGraphqlServer({ app, config, logger, schema, introspection, metrics, schemaFile }: GraphqlServerOptions) {
  const { maxDepth, maxAliases, maxDirectives, maxTokens, maxCost } = config.graphqlLimits;
  // armor words a limit's refusal as a syntax error ("Syntax Error: Query depth limit …"); it is
  // reported as the validation error it is, and validation goes on to report any others.
  // One object per rule: armor may add a handler of its own to a rule's onReject list.
  const reportPlainly = () => ({ propagateOnRejection: false, onReject: [reportLimitExceeded] });
  const armor = new ApolloArmor({
    maxDepth: { n: maxDepth, ...reportPlainly() },
    maxAliases: { n: maxAliases, ...reportPlainly() },
    maxDirectives: { n: maxDirectives, ...reportPlainly() },
    // Counted by graphql's own parser instead (parseOptions below): armor's token plugin turns
    // every syntax error into an HTTP 500.
    maxTokens: { enabled: false },
    costLimit: { maxCost, ...reportPlainly() },
    // Apollo's hideSchemaDetailsFromClientErrors (below) already drops the suggestions in
    // production; armor's plugin would do it again on every request.
    blockFieldSuggestion: { enabled: false },
  }).protect();
  const apollo = new ApolloServer<GatewayContext>({
    schema,
    introspection,
    hideSchemaDetailsFromClientErrors: config.production,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    // main.ts drains on SIGTERM/SIGINT itself. Apollo's own handlers (on by default outside
    // NODE_ENV=test) would stop the server and then send the signal again once its drain ended:
    // a drain of two seconds or more then took that for a second signal and stopped at once.
    stopOnTerminationSignals: false,
    persistedQueries: false,
    parseOptions: { maxTokens },
    // Apollo's own store sizes a document without its source text: see document-store.ts.
    documentStore: boundedDocumentStore(),
    validationRules: [...armor.validationRules, typenameAliasOnlyForTypename, oneCredentialMutationPerOperation, knownOperationTypes],
    logger,
    formatError: createErrorFormatter(logger, { development: config.development, counter: metrics, schemaFile }),
    plugins: [
      ...armor.plugins,
      errorsPlugin,
      fastifyApolloDrainPlugin(app),
      ApolloServerPluginLandingPageDisabled(),
      // No answer of an auth gateway is cacheable (the HTTP layer says so: no-store), and the hints
      // plugin wraps every field resolver.
      ApolloServerPluginCacheControlDisabled(),
      // Apollo turns inline traces on for a subgraph schema: every router request asking for them
      // would get each resolver's timings (a login's included). Nothing here reports usage.
      ApolloServerPluginInlineTraceDisabled(),
    ],
  });
  await apollo.start();
  return apollo;
}
