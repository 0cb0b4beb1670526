// Rule: the kit's type-graphql authChecker decides @Authorized exactly as the gateway's own (UNAUTHENTICATED without a viewer, FORBIDDEN without any listed role), also inside a type-graphql schema.
import { execute, GraphQLError, parse, type GraphQLResolveInfo, type GraphQLSchema } from 'graphql';
import { Authorized, buildSchema, Ctx, Field, ObjectType, Query, Resolver, type AuthChecker, type AuthCheckerFn } from 'type-graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/domain/auth';
import { GatewayError } from '../../src/errors';
import { authChecker as gatewayAuthChecker } from '../../src/graphql/auth-checker';
import type { GatewayContext } from '../../src/graphql/context';
import { guardedFields } from '../../src/graphql/federation/guarded-fields';
import { createAuthChecker, type SubgraphViewer } from '../../src/subgraph';

interface KitContext {
  viewer: SubgraphViewer | null;
}

type Outcome = 'allowed' | 'denied' | 'UNAUTHENTICATED' | 'FORBIDDEN' | `other: ${string}`;

const viewerOf = (kind: 'anonymous' | 'user' | 'admin' | 'editor'): (SubgraphViewer & Viewer) | null => {
  const roles = { anonymous: null, user: ['user'], admin: ['admin', 'user'], editor: ['editor', 'user'] }[kind];
  return roles && { userId: '0b6c4a52-52c7-4a8e-9a55-9c4bfa7c2f10', sessionId: 'c0d1f1a8-3f41-4e2b-8d0a-2f4b1a7c9e11', roles, amr: ['pwd'], expiresAt: new Date(Date.now() + 60_000) };
};

// Both checkers are plain functions (not classes): call them as type-graphql would.
const asFn = <C extends object>(checker: AuthChecker<C>) => checker as AuthCheckerFn<C>;
const kit = asFn(createAuthChecker<KitContext>((context) => context.viewer));
const gateway = asFn(gatewayAuthChecker);

async function outcome(run: () => boolean | Promise<boolean>, errorCode: (error: unknown) => unknown): Promise<Outcome> {
  try {
    return (await run()) ? 'allowed' : 'denied';
  } catch (error) {
    const code = errorCode(error);
    return code === 'UNAUTHENTICATED' || code === 'FORBIDDEN' ? code : `other: ${String(code)}`;
  }
}

const info = {} as GraphQLResolveInfo;
const kitOutcome = (viewer: SubgraphViewer | null, roles: string[]) =>
  outcome(
    () => kit({ root: {}, args: {}, context: { viewer }, info }, roles),
    // The kit throws GraphQL errors a subgraph's server passes through.
    (error) => (error instanceof GraphQLError ? error.extensions.code : 'not a GraphQLError'),
  );
const gatewayOutcome = (viewer: Viewer | null, roles: string[]) =>
  outcome(
    () => gateway({ root: {}, args: {}, context: { viewer } as GatewayContext, info }, roles),
    // The gateway throws its own errors; format-error turns their `code` into extensions.code.
    (error) => (error instanceof GatewayError ? error.code : 'not a GatewayError'),
  );

describe('createAuthChecker agrees with the gateway authChecker', () => {
  const guardedRoleLists = [...new Map([...guardedFields().values()].map((roles) => [JSON.stringify(roles), roles])).values()];
  // Beyond what the gateway uses today: a role nobody holds, and any-of lists in both orders.
  const roleLists = [...guardedRoleLists, ['editor'], ['editor', 'admin'], ['admin', 'editor'], ['nobody']];

  it('the gateway has guarded fields, both of any signed-in viewer and of a role', () => {
    expect(guardedRoleLists.length).toBeGreaterThan(0);
    expect(guardedRoleLists).toContainEqual([]);
    expect(guardedRoleLists.some((roles) => roles.length > 0)).toBe(true);
  });

  for (const roles of roleLists) {
    it(`@Authorized(${roles.map((r) => JSON.stringify(r)).join(', ')})`, async () => {
      const seen = new Set<Outcome>();
      for (const kind of ['anonymous', 'user', 'admin', 'editor'] as const) {
        const viewer = viewerOf(kind);
        const expected = await gatewayOutcome(viewer, roles);
        expect(await kitOutcome(viewer, roles), `${kind} on @Authorized(${roles.join(', ')})`).toBe(expected);
        // Both follow the documented rule, so a change to both at once is caught too.
        const rule: Outcome = !viewer ? 'UNAUTHENTICATED' : roles.length === 0 || roles.some((r) => viewer.roles.includes(r)) ? 'allowed' : 'FORBIDDEN';
        expect(expected, `${kind} on @Authorized(${roles.join(', ')})`).toBe(rule);
        seen.add(expected);
      }
      expect(seen.has('UNAUTHENTICATED')).toBe(true);
      expect(seen.has('allowed') || roles.includes('nobody')).toBe(true);
    });
  }
});

// --- Inside a type-graphql schema ----------------------------------------------------------------

@ObjectType()
class KitCheckerReport {
  @Field(() => String)
  title!: string;
}

@Resolver()
class KitCheckerResolver {
  @Authorized('admin')
  @Query(() => KitCheckerReport)
  kitCheckerAdminReport(): KitCheckerReport {
    return { title: 'for admins' };
  }

  @Authorized()
  @Query(() => String)
  kitCheckerWhoami(@Ctx() context: KitContext): string {
    return context.viewer!.userId;
  }

  @Query(() => String)
  kitCheckerOpen(): string {
    return 'open';
  }
}

describe('createAuthChecker in a type-graphql schema', () => {
  let schema: GraphQLSchema;
  let booleanChecked: GraphQLSchema;
  const run = async (target: GraphQLSchema, query: string, viewer: SubgraphViewer | null) => {
    const result = await execute({ schema: target, document: parse(query), contextValue: { viewer } satisfies KitContext });
    return { data: result.data, codes: result.errors?.map((e) => e.extensions.code), errors: result.errors };
  };

  beforeAll(async () => {
    schema = await buildSchema({
      resolvers: [KitCheckerResolver],
      authChecker: createAuthChecker<KitContext>((context) => context.viewer),
      validate: false,
    });
    // For contrast: a checker that answers true/false leaves the code to type-graphql.
    booleanChecked = await buildSchema({
      resolvers: [KitCheckerResolver],
      authChecker: ({ context }: { context: KitContext }, roles: string[]) =>
        !!context.viewer && (roles.length === 0 || roles.some((role) => context.viewer!.roles.includes(role))),
      validate: false,
    });
  });

  it('answers an anonymous caller of an @Authorized("admin") field UNAUTHENTICATED, where a boolean checker would not', async () => {
    const anonymous = await run(schema, '{ kitCheckerAdminReport { title } }', null);
    expect(anonymous.codes).toEqual(['UNAUTHENTICATED']);
    expect(anonymous.data).toBeNull();
    // type-graphql picks the code by the number of roles: a role-guarded field gets its permission error.
    const contrast = await run(booleanChecked, '{ kitCheckerAdminReport { title } }', null);
    expect(contrast.codes).toEqual(['UNAUTHORIZED']);
  });

  it('answers a viewer without the role FORBIDDEN and admits an admin', async () => {
    const plain = await run(schema, '{ kitCheckerAdminReport { title } }', viewerOf('user'));
    expect(plain.codes).toEqual(['FORBIDDEN']);
    expect(plain.data).toBeNull();
    const admin = await run(schema, '{ kitCheckerAdminReport { title } }', viewerOf('admin'));
    expect(admin).toMatchObject({ data: { kitCheckerAdminReport: { title: 'for admins' } }, errors: undefined });
  });

  it('@Authorized() admits any viewer and answers nobody UNAUTHENTICATED; unguarded fields stay open', async () => {
    expect((await run(schema, '{ kitCheckerWhoami }', null)).codes).toEqual(['UNAUTHENTICATED']);
    expect(await run(schema, '{ kitCheckerWhoami }', viewerOf('user'))).toMatchObject({ data: { kitCheckerWhoami: viewerOf('user')!.userId }, errors: undefined });
    expect(await run(schema, '{ kitCheckerOpen }', null)).toMatchObject({ data: { kitCheckerOpen: 'open' }, errors: undefined });
  });
});
