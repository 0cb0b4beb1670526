/**
 * The gateway as an Apollo Federation 2 subgraph: the public schema, plus `User @key(fields:
 * "id")`, `_service` and `_entities`, with @authenticated / @requiresScopes on every field that
 * @Authorized guards, for routers that enforce them. The resolvers are the public schema's own,
 * so the gateway still decides every guard itself.
 */
import { buildSubgraphSchema, printSubgraphSchema } from '@apollo/subgraph';
import {
  Kind,
  lexicographicSortSchema,
  parse,
  printSchema,
  visit,
  type ConstDirectiveNode,
  type DocumentNode,
  type GraphQLSchema,
} from 'graphql';
import DataLoader from 'dataloader';
import { createResolversMap } from 'type-graphql';
import { findUserReferences } from '../../domain/auth';
import type { UserRecord } from '../../domain/ports';
import { BadUserInputError } from '../../errors';
import type { GatewayContext } from '../context';
import { gatewaySchema } from '../schema';
import { guardedFields } from './guarded-fields';

const FEDERATION_LINK =
  'extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key", "@authenticated", "@requiresScopes"])';

/** One directive written as SDL, as an AST node. */
function directive(sdl: string): ConstDirectiveNode {
  const [definition] = parse(`scalar S ${sdl}`, { noLocation: true }).definitions;
  if (definition?.kind !== Kind.SCALAR_TYPE_DEFINITION || !definition.directives?.[0]) throw new Error(`not a directive: ${sdl}`);
  return definition.directives[0];
}

/** @Authorized() is @authenticated; @Authorized(a, b) is @requiresScopes(scopes: [["a"], ["b"]]) (any one role). */
const directiveForRoles = (roles: string[]) =>
  directive(roles.length === 0 ? '@authenticated' : `@requiresScopes(scopes: ${JSON.stringify(roles.map((role) => [role]))})`);

const KEY_ID = directive('@key(fields: "id")');

function subgraphTypeDefs(): DocumentNode {
  const guarded = guardedFields();
  const base = parse(printSchema(lexicographicSortSchema(gatewaySchema())), { noLocation: true });
  const annotated = visit(base, {
    ObjectTypeDefinition(type) {
      const fields = type.fields?.map((field) => {
        const roles = guarded.get(`${type.name.value}.${field.name.value}`);
        return roles ? { ...field, directives: [...(field.directives ?? []), directiveForRoles(roles)] } : field;
      });
      const key = type.name.value === 'User' ? [KEY_ID] : [];
      return { ...type, fields, directives: [...(type.directives ?? []), ...key] };
    },
  });
  const link = parse(FEDERATION_LINK, { noLocation: true }).definitions;
  return { ...annotated, definitions: [...link, ...annotated.definitions] };
}

let schema: GraphQLSchema | undefined;

/**
 * At most this many representations in one request, over all its `_entities` fields: aliases may
 * repeat one variable, so that a 100 KB body could name about 21,000 users. A router's fetch of
 * the users a page of results refers to stays far below it.
 */
const MAX_REPRESENTATIONS = 1000;

/** Per request: the representations asked for so far, whether any were refused, and the users looked up for them. */
interface EntityRequest {
  representations: number;
  refused: boolean;
  users: DataLoader<string, UserRecord | null>;
}
const entityRequests = new WeakMap<GatewayContext, EntityRequest>();

function entityRequest(context: GatewayContext): EntityRequest {
  let request = entityRequests.get(context);
  if (!request) {
    const state: EntityRequest = {
      representations: 0,
      refused: false,
      // Every representation of the request in one statement, each user once: the batch runs
      // after all the operation's `_entities` fields have been checked, so an operation with one
      // refused (over the limit, or a representation not ours) looks nobody up. `_entities` is
      // non-null: one refusal nulls the whole answer, whatever the fields before it queued.
      users: new DataLoader(
        async (ids) => (state.refused ? ids.map(() => null) : findUserReferences(context.deps, ids)),
        { maxBatchSize: MAX_REPRESENTATIONS },
      ),
    };
    entityRequests.set(context, (request = state));
  }
  return request;
}

export function subgraphSchema(): GraphQLSchema {
  if (schema) return schema;
  const resolvers = createResolversMap(gatewaySchema()) as Record<string, Record<string, unknown>>;
  schema = buildSubgraphSchema({
    typeDefs: subgraphTypeDefs(),
    resolvers: {
      ...resolvers,
      User: {
        ...resolvers.User,
        __resolveReference: (reference: { id: string }, context: GatewayContext) => entityRequest(context).users.load(reference.id),
      },
    } as never,
  });
  refuseForeignRepresentations(schema);
  return schema;
}

const isUserRepresentation = (value: unknown) =>
  typeof value === 'object' && value !== null && 'id' in value && typeof value.id === 'string' && '__typename' in value && value.__typename === 'User';

/**
 * `_entities` takes only what this subgraph owns, `{ __typename: "User", id: <string> }` (other
 * keys ignored), and at most MAX_REPRESENTATIONS of them per request: anything else is the
 * caller's mistake (BAD_USER_INPUT), not an internal error.
 */
function refuseForeignRepresentations(built: GraphQLSchema) {
  const field = built.getQueryType()!.getFields()._entities!;
  const resolve = field.resolve!;
  field.resolve = (source, args: { representations: unknown[] }, context: GatewayContext, info) => {
    const request = entityRequest(context);
    request.representations += args.representations.length;
    if (request.representations > MAX_REPRESENTATIONS) {
      request.refused = true;
      throw new BadUserInputError(`At most ${MAX_REPRESENTATIONS} representations per request, over all its _entities fields.`, 'representations');
    }
    if (!args.representations.every(isUserRepresentation)) {
      request.refused = true;
      throw new BadUserInputError('Every representation must be { __typename: "User", id: <string> }.', 'representations');
    }
    return resolve(source, args, context, info);
  };
}

const SUBGRAPH_SCHEMA_HEADER =
  '# The gateway as a Federation 2 subgraph (SUBGRAPH_PORT). Generated by `npm run schema`. Do not edit.\n\n';

/** The text committed as schema.subgraph.graphql. */
export const printSubgraphSdl = () => SUBGRAPH_SCHEMA_HEADER + printSubgraphSchema(subgraphSchema()) + '\n';
