/**
 * Enforces `@authenticated` and `@requiresScopes` inside a subgraph, as written in its SDL, for
 * plain graphql-js and `@apollo/subgraph` schemas: defence in depth behind a router that
 * enforces them, and the only enforcement behind one that does not.
 *
 * Semantics, as Apollo Router's: on a field, it guards that field; on an object or interface
 * type (or an `extend type`), it guards every field returning that type and every field of the
 * type itself, so the type cannot be reached through `_entities` or a union either.
 * `@requiresScopes(scopes: [["a", "b"], ["c"]])` admits a viewer whose scopes include a and b,
 * or c. The gateway's tokens carry the roles as scopes. No viewer: UNAUTHENTICATED; a viewer
 * without the scopes: FORBIDDEN. Names follow the schema's federation `@link` (imports, `as`
 * renames, the `federation__` namespace).
 */
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import {
  defaultFieldResolver,
  getNamedType,
  valueFromASTUntyped,
  type ConstDirectiveNode,
  type GraphQLFieldConfig,
  type GraphQLFieldResolver,
  type GraphQLNamedType,
  type GraphQLSchema,
} from 'graphql';
import { forbidden, unauthenticated } from './errors.js';
import type { SubgraphViewer } from './verifier.js';

export interface AuthDirectiveOptions<Context> {
  viewerOf: (context: Context) => SubgraphViewer | null | undefined;
}

/**
 * What a field demands: null for nothing, else alternatives of scope sets, any one of which
 * admits a viewer ([[]]: any viewer; []: nobody, so a malformed guard fails closed).
 */
export type Requirement = null | string[][];

/** The names the two directives go by in one schema. */
export interface SecurityDirectiveNames {
  authenticated: Set<string>;
  requiresScopes: Set<string>;
}

const DEFAULT_NAMES: SecurityDirectiveNames = {
  authenticated: new Set(['authenticated', 'federation__authenticated']),
  requiresScopes: new Set(['requiresScopes', 'federation__requiresScopes']),
};

const FEDERATION_SPEC = /^https:\/\/specs\.apollo\.dev\/federation\//;

/** Reads the schema's federation @link: what was imported (and renamed), and the namespace. */
function securityDirectiveNames(schema: GraphQLSchema): SecurityDirectiveNames {
  const argumentsOf = (directive: ConstDirectiveNode) =>
    Object.fromEntries((directive.arguments ?? []).map((arg) => [arg.name.value, valueFromASTUntyped(arg.value)])) as {
      url?: unknown;
      as?: string;
      import?: unknown[];
    };
  const links = [schema.astNode, ...schema.extensionASTNodes]
    .flatMap((node) => node?.directives ?? [])
    .filter((directive) => directive.name.value === 'link')
    .map(argumentsOf)
    .filter((link) => typeof link.url === 'string' && FEDERATION_SPEC.test(link.url));
  if (links.length === 0) return DEFAULT_NAMES;
  const names: SecurityDirectiveNames = { authenticated: new Set(), requiresScopes: new Set() };
  for (const link of links) {
    const namespace = link.as ?? 'federation';
    names.authenticated.add(`${namespace}__authenticated`);
    names.requiresScopes.add(`${namespace}__requiresScopes`);
    for (const entry of link.import ?? []) {
      const { name, as } = typeof entry === 'string' ? { name: entry, as: entry } : (entry as { name?: string; as?: string });
      const local = (as ?? name ?? '').replace(/^@/, '');
      if (name === '@authenticated') names.authenticated.add(local);
      if (name === '@requiresScopes') names.requiresScopes.add(local);
    }
  }
  return names;
}

// GraphQL coerces `scopes: ["a", "b"]` to [["a"], ["b"]] and "a" to [["a"]], as the router does.
const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);
function alternativesOf(value: unknown): string[][] {
  const alternatives = asList(value).map(asList);
  return alternatives.every((all) => all.every((scope) => typeof scope === 'string')) ? (alternatives as string[][]) : [];
}

export function requirementOf(directives: readonly ConstDirectiveNode[], names: SecurityDirectiveNames = DEFAULT_NAMES): Requirement {
  let requirement: Requirement = null;
  for (const directive of directives) {
    let alternatives: string[][];
    if (names.authenticated.has(directive.name.value)) alternatives = [[]];
    else if (names.requiresScopes.has(directive.name.value)) {
      const argument = directive.arguments?.find((arg) => arg.name.value === 'scopes');
      alternatives = argument ? alternativesOf(valueFromASTUntyped(argument.value)) : [];
    } else continue;
    // Several guards must all hold: pair every alternative of each.
    requirement = requirement === null ? alternatives : requirement.flatMap((a) => alternatives.map((b) => [...a, ...b]));
  }
  return requirement;
}

/** The decision alone: what the wrapped resolver enforces. */
export function decide(requirement: Requirement, viewer: SubgraphViewer | null | undefined): 'allowed' | 'unauthenticated' | 'forbidden' {
  if (requirement === null) return 'allowed';
  if (!viewer) return 'unauthenticated';
  return requirement.some((all) => all.every((scope) => viewer.roles.includes(scope))) ? 'allowed' : 'forbidden';
}

const directivesOfType = (type: GraphQLNamedType | null | undefined) =>
  [type?.astNode, ...(type?.extensionASTNodes ?? [])].flatMap((node) => (node?.directives ?? []) as readonly ConstDirectiveNode[]);

export function applyAuthDirectives<Context>(schema: GraphQLSchema, options: AuthDirectiveOptions<Context>): GraphQLSchema {
  const names = securityDirectiveNames(schema);
  const guard = (field: GraphQLFieldConfig<unknown, Context>, ownerName: string) => {
    const requirement = requirementOf(
      [...((field.astNode?.directives ?? []) as readonly ConstDirectiveNode[]), ...directivesOfType(schema.getType(ownerName)), ...directivesOfType(getNamedType(field.type))],
      names,
    );
    if (requirement === null) return field;
    const check = (context: Context) => {
      const decision = decide(requirement, options.viewerOf(context));
      if (decision === 'unauthenticated') throw unauthenticated();
      if (decision === 'forbidden') throw forbidden();
    };
    const resolve: GraphQLFieldResolver<unknown, Context> = field.resolve ?? defaultFieldResolver;
    const subscribe = field.subscribe;
    return {
      ...field,
      resolve(source, args, context, info) {
        check(context);
        return resolve(source, args, context, info);
      },
      ...(subscribe && {
        subscribe(source, args, context, info) {
          check(context);
          return subscribe(source, args, context, info);
        },
      }),
    } satisfies GraphQLFieldConfig<unknown, Context>;
  };
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (field, _name, typeName) => guard(field as GraphQLFieldConfig<unknown, Context>, typeName),
  });
}
