// Rule: every @Authorized operation of the public schema is decided by the gateway's authChecker
// with its roles, synchronously (no type-graphql middleware promise): an anonymous caller gets
// UNAUTHENTICATED and a caller without the role FORBIDDEN, thrown before the method runs.
import { GraphQLObjectType, type GraphQLResolveInfo } from 'graphql';
import { expect, it } from 'vitest';
import { ForbiddenError, UnauthenticatedError } from '../../src/errors';
import type { GatewayContext } from '../../src/graphql/context';
import { guardedFields } from '../../src/graphql/federation/guarded-fields';
import { gatewaySchema } from '../../src/graphql/schema';

const caller = (roles: string[] | null) =>
  ({
    viewer: roles && { userId: 'u1', sessionId: 's1', roles, amr: ['pwd'] },
    issuedTo: new Set<string>(),
  }) as unknown as GatewayContext;

it('refuses each guarded operation synchronously, with the code its roles call for', () => {
  const schema = gatewaySchema();
  const operations = [...guardedFields()].filter(([key]) => key.startsWith('Query.') || key.startsWith('Mutation.'));
  // me, users, sessions, the MFA and session mutations, setUserRoles, changePassword…
  expect(operations.length).toBeGreaterThanOrEqual(10);
  for (const [key, roles] of operations) {
    const [typeName, fieldName] = key.split('.') as [string, string];
    const type = schema.getType(typeName);
    if (!(type instanceof GraphQLObjectType)) throw new Error(`no type ${typeName}`);
    const resolve = type.getFields()[fieldName]!.resolve!;
    const call = (context: GatewayContext) => () => resolve(undefined, {}, context, {} as GraphQLResolveInfo);
    // A promise would not throw here: the check would have run inside type-graphql's middleware.
    expect(call(caller(null)), key).toThrow(UnauthenticatedError);
    if (roles.length > 0) expect(call(caller(['user'])), key).toThrow(ForbiddenError);
  }
});
