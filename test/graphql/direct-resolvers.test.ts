// Rule: every @Authorized operation of the public schema is decided by the gateway's authChecker
// with its roles, synchronously (no type-graphql middleware promise): an anonymous caller gets
// UNAUTHENTICATED and a caller without the role FORBIDDEN, thrown before the method runs. A
// schema built with global middlewares or validation keeps type-graphql's resolvers throughout.
import { GraphQLObjectType, type GraphQLResolveInfo } from 'graphql';
import { buildSchemaSync } from 'type-graphql';
import { expect, it } from 'vitest';
import { ForbiddenError, UnauthenticatedError } from '../../src/errors';
import type { GatewayContext } from '../../src/graphql/context';
import { guardedFields } from '../../src/graphql/federation/guarded-fields';
import { authChecker } from '../../src/graphql/auth-checker';
import { directResolvers } from '../../src/graphql/direct-resolvers';
import { gatewaySchema, RESOLVERS } from '../../src/graphql/schema';

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

it('leaves every operation to type-graphql when the schema runs global middlewares: a direct call would skip them', async () => {
  let ran = 0;
  const options = {
    resolvers: RESOLVERS,
    authChecker,
    validate: false,
    globalMiddlewares: [
      async (_data: unknown, next: () => Promise<unknown>) => {
        ran++;
        return next();
      },
    ],
  };
  const schema = directResolvers(buildSchemaSync(options), options);
  const me = (schema.getType('Query') as GraphQLObjectType).getFields().me!.resolve!;
  await me(undefined, {}, caller(['user']), {} as GraphQLResolveInfo);
  expect(ran).toBe(1);
  // The gateway's own schema has none: its operations are called directly.
  expect(() => (gatewaySchema().getType('Query') as GraphQLObjectType).getFields().me!.resolve!(undefined, {}, caller(null), {} as GraphQLResolveInfo)).toThrow(UnauthenticatedError);
});

it("leaves every operation to type-graphql when the schema answers refusals with null (authMode 'null')", async () => {
  // A checker that says no (rather than throwing, as the gateway's does): type-graphql then answers null.
  const options = { resolvers: RESOLVERS, authChecker: () => false, validate: false, authMode: 'null' as const };
  const schema = directResolvers(buildSchemaSync(options), options);
  const me = (schema.getType('Query') as GraphQLObjectType).getFields().me!.resolve!;
  expect(await me(undefined, {}, caller(null), {} as GraphQLResolveInfo)).toBeNull();
});
