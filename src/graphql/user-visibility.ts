import { MapperKind, mapSchema } from '@graphql-tools/utils';
import { defaultFieldResolver, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { canSeeUser } from '../domain/auth';
import { ForbiddenError, UnauthenticatedError } from '../errors';
import type { GatewayContext } from './context';

/**
 * Guards a User's details on every path (me, users, a login payload, `_entities`): the user
 * themself or an admin. A request that has just signed the user in may read its own payload.
 */
function assertCanSeeUser(context: GatewayContext, userId: string): void {
  if (context.issuedTo.has(userId)) return;
  const decision = canSeeUser(context.viewer, userId);
  if (decision === 'unauthenticated') throw new UnauthenticatedError();
  if (decision === 'forbidden') throw new ForbiddenError();
}

function guarded(resolve: GraphQLFieldResolver<unknown, GatewayContext> = defaultFieldResolver): GraphQLFieldResolver<unknown, GatewayContext> {
  return (root, args, context, info) => {
    assertCanSeeUser(context, (root as { id: string }).id);
    return resolve(root, args, context, info);
  };
}

/**
 * Every field of User but `id` behind assertCanSeeUser, in the schema itself: every schema built
 * from this one (the subgraph's) keeps the guard. A plain wrapper rather than a type-graphql
 * middleware, whose chain of promises would cost every guarded field of every answer.
 */
export function guardUserFields(schema: GraphQLSchema): GraphQLSchema {
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (field, fieldName, typeName) =>
      typeName === 'User' && fieldName !== 'id' ? { ...field, resolve: guarded(field.resolve) } : field,
  });
}
