// Rule: every @Authorized operation of the public schema is decided by the gateway's authChecker
// with its roles, synchronously (no type-graphql middleware promise): an anonymous caller gets
// UNAUTHENTICATED and a caller without the role FORBIDDEN, thrown before the method runs. A
// schema built with global middlewares or validation keeps type-graphql's resolvers throughout.
// An expected failure (a GatewayError) leaves a direct resolver already located, with no stack
// trace captured or formatted for it or for its GraphQLError; any other error keeps its stack.
import { unwrapResolverError } from '@apollo/server/errors';
import { execute, GraphQLError, GraphQLObjectType, parse, type GraphQLResolveInfo } from 'graphql';
import { buildSchemaSync } from 'type-graphql';
import { expect, it } from 'vitest';
import { ForbiddenError, ServiceUnavailableError, UnauthenticatedError } from '../../src/errors';
import type { GatewayContext } from '../../src/graphql/context';
import { guardedFields } from '../../src/graphql/federation/guarded-fields';
import { authChecker } from '../../src/graphql/auth-checker';
import { directResolvers } from '../../src/graphql/direct-resolvers';
import { gatewaySchema, RESOLVERS } from '../../src/graphql/schema';
import { PasswordHasher } from '../../src/domain/passwords/password-hasher';

const caller = (roles: string[] | null) =>
  ({
    viewer: roles && { userId: 'u1', sessionId: 's1', roles, amr: ['pwd'] },
    issuedTo: new Set<string>(),
  }) as unknown as GatewayContext;

/** What a resolver call threw, as Apollo's error formatter unwraps it (undefined: it threw nothing). */
function refusal(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(GraphQLError);
    return unwrapResolverError(error);
  }
  return undefined;
}

const FRAME = /\n\s+at /;

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
    expect(refusal(call(caller(null))), key).toBeInstanceOf(UnauthenticatedError);
    if (roles.length > 0) expect(refusal(call(caller(['user']))), key).toBeInstanceOf(ForbiddenError);
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
  const direct = (gatewaySchema().getType('Query') as GraphQLObjectType).getFields().me!.resolve!;
  expect(refusal(() => direct(undefined, {}, caller(null), {} as GraphQLResolveInfo))).toBeInstanceOf(UnauthenticatedError);
});

it('refuses as type-graphql would when a checker says no instead of throwing: by the number of roles', () => {
  const options = { resolvers: RESOLVERS, authChecker: () => false, validate: false };
  const fields = (name: string) => (directResolvers(buildSchemaSync(options), options).getType(name) as GraphQLObjectType).getFields();
  const me = (roles: string[] | null) => () => fields('Query').me!.resolve!(undefined, {}, caller(roles), {} as GraphQLResolveInfo);
  const users = (roles: string[] | null) => () => fields('Query').users!.resolve!(undefined, { limit: 1, offset: 0 }, caller(roles), {} as GraphQLResolveInfo);
  // @Authorized() with no role: UNAUTHENTICATED; @Authorized(ADMIN_ROLE): FORBIDDEN, at once,
  // whoever calls (the gateway's own checker decides by the viewer instead, and throws).
  for (const roles of [null, ['admin']]) {
    expect(refusal(me(roles)), String(roles)).toBeInstanceOf(UnauthenticatedError);
    expect(refusal(users(roles)), String(roles)).toBeInstanceOf(ForbiddenError);
  }
});

it("leaves every operation to type-graphql when the schema answers refusals with null (authMode 'null')", async () => {
  // A checker that says no (rather than throwing, as the gateway's does): type-graphql then answers null.
  const options = { resolvers: RESOLVERS, authChecker: () => false, validate: false, authMode: 'null' as const };
  const schema = directResolvers(buildSchemaSync(options), options);
  const me = (schema.getType('Query') as GraphQLObjectType).getFields().me!.resolve!;
  expect(await me(undefined, {}, caller(null), {} as GraphQLResolveInfo)).toBeNull();
});

it('answers an expected failure without a stack trace, thrown at once or by an async operation', async () => {
  const schema = gatewaySchema();
  // Refused by the guard before the method runs.
  const anonymous = await execute({ schema, document: parse('{ me { id } }'), contextValue: caller(null) });
  // login is async: hashing saturated, it is shed inside the domain.
  const hasher = new PasswordHasher({ memoryKib: 19_456, timeCost: 2, parallelism: 1 }, { concurrency: 1, queue: 0, perClient: 1 });
  hasher.reserve('another client'); // its one place, held
  const saturated = { ...caller(null), deps: { hasher }, client: { ip: '127.0.0.1' } } as unknown as GatewayContext;
  const shed = await execute({ schema, document: parse('mutation { login(email: "a@example.com", password: "x") { __typename } }'), contextValue: saturated });
  for (const [result, kind, field] of [
    [anonymous, UnauthenticatedError, 'me'],
    [shed, ServiceUnavailableError, 'login'],
  ] as const) {
    const error = result.errors?.[0];
    expect(unwrapResolverError(error)).toBeInstanceOf(kind);
    // Located as graphql-js would have located it.
    expect(error?.path).toEqual([field]);
    expect(error?.locations).toHaveLength(1);
    expect(error?.stack).not.toMatch(FRAME);
    expect((error?.originalError as Error).stack).not.toMatch(FRAME);
  }
  // Thrown already located: graphql-js would otherwise make a GraphQLError of its own, which
  // captures and formats a stack trace whatever the error it wraps.
  const login = (schema.getType('Mutation') as GraphQLObjectType).getFields().login!.resolve!;
  const rejection: unknown = await Promise.resolve(login(undefined, { email: 'a@example.com', password: 'x' }, saturated, {} as GraphQLResolveInfo)).catch((error: unknown) => error);
  expect(rejection).toBeInstanceOf(GraphQLError);
  expect(unwrapResolverError(rejection)).toBeInstanceOf(ServiceUnavailableError);
  // Stack traces elsewhere are untouched.
  expect(new Error('unexpected').stack).toMatch(FRAME);
});
