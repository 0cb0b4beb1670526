// Rule: the kit's directive transform, applied to schema.subgraph.graphql, decides every guarded field exactly as the gateway's own @Authorized does (allow/deny and the code), for anonymous, user and admin.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import {
  execute,
  subscribe,
  type ExecutionResult,
  getNamedType,
  isAbstractType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  Kind,
  parse,
  type ConstDirectiveNode,
  type DocumentNode,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLSchema,
} from 'graphql';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantRole } from '../../src/domain/admin';
import { guardedFields } from '../../src/graphql/federation/guarded-fields';
import { applyAuthDirectives, decide, requirementOf, type SubgraphViewer } from '../../src/subgraph';
import { LoginDocument } from '../gql/graphql';
import { PASSWORD, signUp, uniqueEmail } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { ROOT } from '../helpers/processes';

type Decision = 'allowed' | 'UNAUTHENTICATED' | 'FORBIDDEN';
type ViewerKind = 'anonymous' | 'user' | 'admin';
const KINDS: ViewerKind[] = ['anonymous', 'user', 'admin'];
const EXPECTED_ROLES: Record<Exclude<ViewerKind, 'anonymous'>, string[]> = { user: ['user'], admin: ['admin', 'user'] };

interface Context {
  viewer: SubgraphViewer | null;
}

const SECURITY = new Set(['authenticated', 'requiresScopes', 'federation__authenticated', 'federation__requiresScopes']);
const typeDefs = parse(readFileSync(path.join(ROOT, 'schema.subgraph.graphql'), 'utf8'));
const guarded = guardedFields();

// --- The kit's side: schema.subgraph.graphql as a subgraph would build it -------------------

/** A harmless value of the field's type, for a resolver that does nothing else. */
function placeholder(schema: GraphQLSchema, type: GraphQLOutputType): unknown {
  if (isNonNullType(type)) return placeholder(schema, type.ofType);
  if (isListType(type)) return [placeholder(schema, type.ofType)];
  if (isScalarType(type)) {
    const scalars: Record<string, unknown> = { Boolean: true, Int: 1, Float: 1, String: 'placeholder', ID: 'placeholder' };
    return type.name in scalars ? scalars[type.name] : '1970-01-01T00:00:00.000Z';
  }
  if (isEnumType(type)) return type.getValues()[0]!.value;
  if (isObjectType(type)) return { __typename: type.name };
  if (isAbstractType(type)) return { __typename: schema.getPossibleTypes(type)[0]!.name };
  throw new Error(`no placeholder for ${String(type)}`);
}

/** The committed SDL, built by @apollo/subgraph with placeholder resolvers for every root field, then guarded by the kit. */
function kitSchema(): GraphQLSchema {
  const bare = buildSubgraphSchema({ typeDefs });
  const resolvers: Record<string, Record<string, () => unknown>> = {};
  for (const definition of typeDefs.definitions) {
    if (definition.kind !== Kind.OBJECT_TYPE_DEFINITION || !['Query', 'Mutation'].includes(definition.name.value)) continue;
    const type = bare.getType(definition.name.value);
    if (!isObjectType(type)) throw new Error(`${definition.name.value} is not an object type`);
    resolvers[definition.name.value] = Object.fromEntries(
      (definition.fields ?? []).map((field) => {
        const fieldType = type.getFields()[field.name.value]!.type;
        return [field.name.value, () => placeholder(bare, fieldType)];
      }),
    );
  }
  return applyAuthDirectives(buildSubgraphSchema({ typeDefs, resolvers: resolvers as never }), {
    viewerOf: (context: Context) => context.viewer,
  });
}

/** A literal of the argument's type, good enough to pass validation. */
function dummyLiteral(type: GraphQLInputType): string {
  if (isNonNullType(type)) return dummyLiteral(type.ofType);
  if (isListType(type)) return `[${dummyLiteral(type.ofType)}]`;
  if (isEnumType(type)) return type.getValues()[0]!.name;
  if (isInputObjectType(type)) throw new Error(`extend dummyLiteral for input ${type.name}`);
  if (type.name === 'Int' || type.name === 'Float') return '1';
  if (type.name === 'Boolean') return 'true';
  return '"x"';
}

/** The smallest operation that selects the root field: required arguments only, `__typename` below objects. */
function operationFor(rootType: 'Query' | 'Mutation', field: GraphQLField<unknown, unknown>): string {
  const args = field.args.filter((arg) => isNonNullType(arg.type) && arg.defaultValue === undefined).map((arg) => `${arg.name}: ${dummyLiteral(arg.type)}`);
  const selection = isLeafType(getNamedType(field.type)) ? '' : ' { __typename }';
  return `${rootType === 'Query' ? 'query' : 'mutation'} { ${field.name}${args.length ? `(${args.join(', ')})` : ''}${selection} }`;
}

const decisionOf = (errors: ReadonlyArray<{ extensions?: Record<string, unknown> }> | undefined): Decision => {
  const code = errors?.[0]?.extensions?.code;
  return code === 'UNAUTHENTICATED' || code === 'FORBIDDEN' ? code : 'allowed';
};

async function kitDecision(schema: GraphQLSchema, operation: string, viewer: SubgraphViewer | null) {
  const result = await execute({ schema, document: parse(operation), contextValue: { viewer } satisfies Context });
  return { decision: decisionOf(result.errors), errors: result.errors };
}

// --- The SDL's own guards -----------------------------------------------------------------------

/** Every `Type.field` of the SDL carrying @authenticated / @requiresScopes, with its directives. */
function directivesInSdl(document: DocumentNode): Map<string, readonly ConstDirectiveNode[]> {
  const found = new Map<string, readonly ConstDirectiveNode[]>();
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OBJECT_TYPE_DEFINITION && definition.kind !== Kind.OBJECT_TYPE_EXTENSION) continue;
    expect(definition.directives?.filter((d) => SECURITY.has(d.name.value)) ?? [], `type-level guard on ${definition.name.value}`).toEqual([]);
    for (const field of definition.fields ?? []) {
      const directives = field.directives?.filter((d) => SECURITY.has(d.name.value)) ?? [];
      if (directives.length > 0) found.set(`${definition.name.value}.${field.name.value}`, directives);
    }
  }
  return found;
}

describe('the guarded fields', () => {
  it('are listed by guardedFields() and carry exactly the matching directive in schema.subgraph.graphql', () => {
    expect(guarded.size).toBeGreaterThan(0);
    const inSdl = directivesInSdl(typeDefs);
    expect([...inSdl.keys()].sort()).toEqual([...guarded.keys()].sort());
    for (const [coordinate, roles] of guarded) {
      // @Authorized() → any viewer; @Authorized(a, b) → a or b.
      expect(requirementOf(inSdl.get(coordinate)!), coordinate).toEqual(roles.length === 0 ? [[]] : roles.map((role) => [role]));
    }
  });

  it('are all root fields (the table below reaches them with one-field operations)', () => {
    for (const coordinate of guarded.keys()) {
      expect(['Query', 'Mutation'], `${coordinate}: extend the table test to reach nested guarded fields`).toContain(coordinate.split('.')[0]);
    }
  });
});

describe('the kit and the gateway decide every guarded field alike', () => {
  let gw: TestGateway;
  let schema: GraphQLSchema;
  const shared: Partial<Record<ViewerKind, string>> = {};

  /** A fresh real account of that kind; its token's scope claim is what the kit's viewer holds. */
  async function account(kind: Exclude<ViewerKind, 'anonymous'>) {
    const user = await signUp(gw, uniqueEmail(kind));
    if (kind === 'user') return user.accessToken;
    await grantRole(gw.deps, user.email, 'admin');
    const login = await gw.gql(LoginDocument, { email: user.email, password: PASSWORD });
    if (login.data?.login.__typename !== 'AuthPayload') throw new Error('expected an AuthPayload');
    return login.data.login.accessToken;
  }

  function kitViewer(kind: ViewerKind, token: string | undefined): SubgraphViewer | null {
    if (kind === 'anonymous' || !token) return null;
    const claims = decodeJwt(token);
    const scopes = String(claims.scope).split(' ');
    expect([...scopes].sort(), `${kind} token scopes`).toEqual([...EXPECTED_ROLES[kind]].sort());
    return { userId: String(claims.sub), sessionId: String(claims.sid), roles: scopes, amr: ['pwd'], expiresAt: new Date(Number(claims.exp) * 1000) };
  }

  async function gatewayDecision(operation: string, token: string | undefined) {
    const response = await gw.post({ query: operation }, { token });
    const body = (await response.json()) as { errors?: Array<{ extensions?: Record<string, unknown> }> };
    return { status: response.status, decision: decisionOf(body.errors), errors: body.errors };
  }

  beforeAll(async () => {
    schema = kitSchema();
    gw = await startGateway();
    shared.user = await account('user');
    shared.admin = await account('admin');
  });
  afterAll(() => gw?.close());

  const table: Array<{ coordinate: string; kind: ViewerKind; kit: Decision; gateway: Decision }> = [];

  for (const [coordinate, roles] of guarded) {
    it(`${coordinate} (${roles.length ? roles.join(' | ') : 'signed in'})`, async () => {
      const [typeName, fieldName] = coordinate.split('.') as ['Query' | 'Mutation', string];
      const rootType = schema.getType(typeName);
      if (!isObjectType(rootType)) throw new Error(`${typeName} missing from the subgraph schema`);
      const field = rootType.getFields()[fieldName];
      expect(field, coordinate).toBeDefined();
      const operation = operationFor(typeName, field!);

      for (const kind of KINDS) {
        // A mutation may end the caller's session (logoutAll, changePassword…): fresh accounts for each.
        const token = kind === 'anonymous' ? undefined : typeName === 'Mutation' ? await account(kind) : shared[kind];
        const kit = await kitDecision(schema, operation, kitViewer(kind, token));
        const gateway = await gatewayDecision(operation, token);
        expect(gateway.status, `${operation} as ${kind}`).toBe(200);
        // Past the guard, the placeholder resolvers must not fail: any kit error is a guard's.
        if (kit.decision === 'allowed') expect(kit.errors, `${operation} as ${kind} (kit)`).toBeUndefined();
        expect(kit.decision, `${operation} as ${kind}: kit vs gateway (${JSON.stringify(gateway.errors)})`).toBe(gateway.decision);
        table.push({ coordinate, kind, kit: kit.decision, gateway: gateway.decision });
      }
    });
  }

  it('covered every guarded field for every viewer, with both codes and an allowance in the table', () => {
    expect(table).toHaveLength(guarded.size * KINDS.length);
    // Every guarded field refuses an anonymous caller, and admin passes every guard here.
    expect(table.filter((row) => row.kind === 'anonymous').every((row) => row.gateway === 'UNAUTHENTICATED')).toBe(true);
    expect(table.filter((row) => row.kind === 'admin').every((row) => row.gateway === 'allowed')).toBe(true);
    const userRows = table.filter((row) => row.kind === 'user');
    expect(userRows.some((row) => row.gateway === 'FORBIDDEN')).toBe(true);
    expect(userRows.some((row) => row.gateway === 'allowed')).toBe(true);
  });
});

// --- Semantics of requirementOf / decide / applyAuthDirectives ------------------------------------

const directives = (text: string): readonly ConstDirectiveNode[] => {
  const document = parse(`type T { f: Int ${text} }`);
  const type = document.definitions[0];
  if (type?.kind !== Kind.OBJECT_TYPE_DEFINITION) throw new Error('unreachable');
  return type.fields![0]!.directives!;
};
const viewer = (...roles: string[]): SubgraphViewer => ({ userId: 'u', sessionId: 's', roles, amr: ['pwd'], expiresAt: new Date(Date.now() + 60_000) });

describe('requirementOf and decide', () => {
  it('no guard: nothing required, everyone allowed', () => {
    expect(requirementOf(directives('@deprecated'))).toBeNull();
    expect(decide(null, null)).toBe('allowed');
  });

  it('@authenticated: any viewer, UNAUTHENTICATED without one', () => {
    const requirement = requirementOf(directives('@authenticated'));
    expect(requirement).toEqual([[]]);
    expect(decide(requirement, null)).toBe('unauthenticated');
    expect(decide(requirement, undefined)).toBe('unauthenticated');
    expect(decide(requirement, viewer())).toBe('allowed');
  });

  it('@requiresScopes: AND within an inner list, OR across the lists', () => {
    const requirement = requirementOf(directives('@requiresScopes(scopes: [["a", "b"], ["c"]])'));
    expect(requirement).toEqual([['a', 'b'], ['c']]);
    expect(decide(requirement, null)).toBe('unauthenticated');
    expect(decide(requirement, viewer())).toBe('forbidden');
    expect(decide(requirement, viewer('a'))).toBe('forbidden');
    expect(decide(requirement, viewer('b'))).toBe('forbidden');
    expect(decide(requirement, viewer('a', 'b'))).toBe('allowed');
    expect(decide(requirement, viewer('c'))).toBe('allowed');
    expect(decide(requirement, viewer('b', 'c'))).toBe('allowed');
  });

  it('@authenticated and @requiresScopes together: both must hold', () => {
    const requirement = requirementOf(directives('@authenticated @requiresScopes(scopes: [["a"], ["b"]])'));
    expect(decide(requirement, null)).toBe('unauthenticated');
    expect(decide(requirement, viewer('x'))).toBe('forbidden');
    expect(decide(requirement, viewer('a'))).toBe('allowed');
    expect(decide(requirement, viewer('b'))).toBe('allowed');
  });

  it('two @requiresScopes on one field: each must hold', () => {
    const requirement = requirementOf(directives('@requiresScopes(scopes: [["a"], ["b"]]) @requiresScopes(scopes: [["c"]])'));
    expect(decide(requirement, viewer('a'))).toBe('forbidden');
    expect(decide(requirement, viewer('c'))).toBe('forbidden');
    expect(decide(requirement, viewer('a', 'c'))).toBe('allowed');
    expect(decide(requirement, viewer('b', 'c'))).toBe('allowed');
  });

  it('@requiresScopes(scopes: []) and a missing scopes argument deny everyone (fail closed)', () => {
    for (const text of ['@requiresScopes(scopes: [])', '@requiresScopes']) {
      const requirement = requirementOf(directives(text));
      expect(requirement, text).toEqual([]);
      expect(decide(requirement, null), text).toBe('unauthenticated');
      expect(decide(requirement, viewer()), text).toBe('forbidden');
      expect(decide(requirement, viewer('admin', 'user', 'a', 'b')), text).toBe('forbidden');
    }
  });

  it('recognises the namespaced federation__authenticated / federation__requiresScopes', () => {
    expect(requirementOf(directives('@federation__authenticated'))).toEqual([[]]);
    const requirement = requirementOf(directives('@federation__requiresScopes(scopes: [["a"]])'));
    expect(requirement).toEqual([['a']]);
    expect(decide(requirement, viewer('b'))).toBe('forbidden');
    expect(decide(requirement, viewer('a'))).toBe('allowed');
  });
});

describe('applyAuthDirectives on a small subgraph', () => {
  const LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key", "@authenticated", "@requiresScopes"])';
  const run = async (schema: GraphQLSchema, operation: string, who: SubgraphViewer | null) => {
    const result = await execute({ schema, document: parse(operation), contextValue: { viewer: who } satisfies Context });
    return { data: result.data, code: result.errors?.[0]?.extensions?.code, errors: result.errors };
  };
  const guard = (schema: GraphQLSchema) => applyAuthDirectives(schema, { viewerOf: (context: Context) => context.viewer });

  it('a type-level @authenticated guards every field returning that type (lists too), not the rest', async () => {
    const schema = guard(
      buildSubgraphSchema({
        typeDefs: parse(`${LINK}
          type Secret @authenticated { value: String! }
          type Query { secret: Secret, secrets: [Secret!]!, open: String }`),
        resolvers: { Query: { secret: () => ({ value: 's' }), secrets: () => [{ value: 's' }], open: () => 'o' } } as never,
      }),
    );
    expect((await run(schema, '{ secret { value } }', null)).code).toBe('UNAUTHENTICATED');
    expect((await run(schema, '{ secrets { value } }', null)).code).toBe('UNAUTHENTICATED');
    expect(await run(schema, '{ open }', null)).toMatchObject({ data: { open: 'o' }, errors: undefined });
    expect(await run(schema, '{ secret { value } secrets { value } }', viewer())).toMatchObject({
      data: { secret: { value: 's' }, secrets: [{ value: 's' }] },
      errors: undefined,
    });
  });

  it("refuses a field returning a guarded type before its resolver runs, though only __typename is asked of it", async () => {
    const ran: string[] = [];
    const schema = guard(
      buildSubgraphSchema({
        typeDefs: parse(`${LINK}
          type Secret @authenticated { value: String! }
          type Query { secret: Secret }
          type Mutation { makeSecret: Secret! }`),
        resolvers: {
          Query: { secret: () => (ran.push('secret'), { value: 's' }) },
          Mutation: { makeSecret: () => (ran.push('makeSecret'), { value: 's' }) },
        } as never,
      }),
    );
    const query = await run(schema, '{ secret { __typename } }', null);
    expect(query).toMatchObject({ data: { secret: null }, code: 'UNAUTHENTICATED' });
    expect(query.errors?.[0]?.path).toEqual(['secret']);
    const mutation = await run(schema, 'mutation { makeSecret { __typename } }', null);
    expect(mutation).toMatchObject({ data: null, code: 'UNAUTHENTICATED' });
    expect(mutation.errors?.[0]?.path).toEqual(['makeSecret']);
    expect(ran).toEqual([]);
    expect(await run(schema, 'mutation { makeSecret { __typename } }', viewer())).toMatchObject({ data: { makeSecret: { __typename: 'Secret' } }, errors: undefined });
    expect(ran).toEqual(['makeSecret']);
  });

  it('refuses a guarded subscription when it is set up, before its source runs', async () => {
    const started: string[] = [];
    const schema = guard(
      buildSubgraphSchema({
        typeDefs: parse(`${LINK}
          type Query { open: String }
          type Subscription { ticks: String @authenticated }`),
        resolvers: {
          Subscription: {
            ticks: {
              subscribe: async function* () {
                started.push('ticks');
                yield { ticks: 'tick' };
              },
            },
          },
        } as never,
      }),
    );
    const refused = await subscribe({ schema, document: parse('subscription { ticks }'), contextValue: { viewer: null } satisfies Context });
    expect(Symbol.asyncIterator in refused).toBe(false);
    expect((refused as ExecutionResult).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(started).toEqual([]);
    const admitted = await subscribe({ schema, document: parse('subscription { ticks }'), contextValue: { viewer: viewer() } satisfies Context });
    expect(Symbol.asyncIterator in admitted).toBe(true);
    const first = await (admitted as AsyncGenerator<ExecutionResult>).next();
    expect(first.value).toMatchObject({ data: { ticks: 'tick' } });
    expect(started).toEqual(['ticks']);
  });

  it('enforces field guards with the codes, including an empty scope list and the namespaced names', async () => {
    const schema = guard(
      buildSubgraphSchema({
        typeDefs: parse(`extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
          type Query {
            both: String @federation__authenticated @federation__requiresScopes(scopes: [["a", "b"], ["c"]])
            nobody: String @federation__requiresScopes(scopes: [])
          }`),
        resolvers: { Query: { both: () => 'both', nobody: () => 'nobody' } } as never,
      }),
    );
    expect((await run(schema, '{ both }', null)).code).toBe('UNAUTHENTICATED');
    expect((await run(schema, '{ both }', viewer('a'))).code).toBe('FORBIDDEN');
    expect(await run(schema, '{ both }', viewer('a', 'b'))).toMatchObject({ data: { both: 'both' }, errors: undefined });
    expect(await run(schema, '{ both }', viewer('c'))).toMatchObject({ data: { both: 'both' }, errors: undefined });
    expect((await run(schema, '{ nobody }', null)).code).toBe('UNAUTHENTICATED');
    const denied = await run(schema, '{ nobody }', viewer('admin', 'user', 'a', 'b', 'c'));
    expect(denied.code).toBe('FORBIDDEN');
    expect(denied.data).toEqual({ nobody: null });
  });

  it("a type-level guard also covers the type's own fields: no way around it through _entities, a union or an extension", async () => {
    const schema = guard(
      buildSubgraphSchema({
        typeDefs: parse(`${LINK}
          type Secret @key(fields: "id") @authenticated { id: ID!, data: String }
          type Open { label: String }
          union Thing = Secret | Open
          type Ext { note: String }
          extend type Ext @requiresScopes(scopes: [["admin"]])
          type Query { things: [Thing!]!, ext: Ext }`),
        resolvers: {
          Query: { things: () => [{ __typename: 'Secret', id: '1', data: 'hidden' }, { __typename: 'Open', label: 'free' }], ext: () => ({ note: 'n' }) },
          Thing: { __resolveType: (value: { __typename: string }) => value.__typename },
          Secret: { __resolveReference: (ref: { id: string }) => ({ id: ref.id, data: 'hidden' }) },
        } as never,
      }),
    );
    const entities = await run(schema, '{ _entities(representations: [{ __typename: "Secret", id: "1" }]) { ... on Secret { data } } }', null);
    expect(entities.code).toBe('UNAUTHENTICATED');
    expect(JSON.stringify(entities.data)).not.toContain('hidden');
    const union = await run(schema, '{ things { ... on Secret { data } ... on Open { label } } }', null);
    expect(union.code).toBe('UNAUTHENTICATED');
    expect(JSON.stringify(union.data)).not.toContain('hidden');
    expect((await run(schema, '{ ext { note } }', viewer('user'))).code).toBe('FORBIDDEN');
    expect(await run(schema, '{ ext { note } }', viewer('admin'))).toMatchObject({ data: { ext: { note: 'n' } }, errors: undefined });
    expect(await run(schema, '{ _entities(representations: [{ __typename: "Secret", id: "1" }]) { ... on Secret { data } } }', viewer())).toMatchObject({
      data: { _entities: [{ data: 'hidden' }] },
      errors: undefined,
    });
  });

  it('follows the @link: directives imported under another name are enforced', async () => {
    const schema = guard(
      buildSubgraphSchema({
        typeDefs: parse(`extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key", { name: "@authenticated", as: "@signedIn" }, { name: "@requiresScopes", as: "@scoped" }])
          type Query {
            a: String @signedIn
            b: String @scoped(scopes: [["admin"]])
          }`),
        resolvers: { Query: { a: () => 'a', b: () => 'b' } } as never,
      }),
    );
    expect((await run(schema, '{ a }', null)).code).toBe('UNAUTHENTICATED');
    expect((await run(schema, '{ b }', viewer('user'))).code).toBe('FORBIDDEN');
    expect(await run(schema, '{ a b }', viewer('admin'))).toMatchObject({ data: { a: 'a', b: 'b' }, errors: undefined });
  });

  it('reads scopes as GraphQL coerces them: ["a", "b"] is a or b, "a" is a; anything else admits nobody', () => {
    const directive = (sdl: string) => {
      const type = parse(`type T { f: Int ${sdl} }`).definitions[0] as unknown as { fields: Array<{ directives: ConstDirectiveNode[] }> };
      return type.fields[0]!.directives;
    };
    expect(requirementOf(directive('@requiresScopes(scopes: ["a", "b"])'))).toEqual([['a'], ['b']]);
    expect(requirementOf(directive('@requiresScopes(scopes: "a")'))).toEqual([['a']]);
    expect(requirementOf(directive('@requiresScopes(scopes: [[1]])'))).toEqual([]);
    expect(decide(requirementOf(directive('@requiresScopes(scopes: [[1]])')), viewer('admin'))).toBe('forbidden');
  });
});

