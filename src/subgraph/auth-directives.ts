/**
 * Enforces `@authenticated` and `@requiresScopes` inside a subgraph, as written in its SDL, for
 * plain graphql-js and `@apollo/subgraph` schemas: defence in depth behind a router that
 * enforces them, and the only enforcement behind one that does not.
 *
 * Semantics, as Apollo Router's: on a field, it guards that field; on an object type, every
 * field returning that type. `@requiresScopes(scopes: [["a", "b"], ["c"]])` admits a viewer
 * whose scopes include a and b, or c. The gateway's tokens carry the roles as scopes.
 * No viewer: UNAUTHENTICATED; a viewer without the scopes: FORBIDDEN.
 */
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import {
  defaultFieldResolver,
  getNamedType,
  valueFromASTUntyped,
  type ConstDirectiveNode,
  type GraphQLFieldResolver,
  type GraphQLSchema,
} from 'graphql';
import { forbidden, unauthenticated } from './errors';
import type { SubgraphViewer } from './verifier';

export interface AuthDirectiveOptions<Context> {
  viewerOf: (context: Context) => SubgraphViewer | null | undefined;
}

/**
 * What a field demands: null for nothing, else alternatives of scope sets, any one of which
 * admits a viewer ([[]]: any viewer; []: nobody, so a malformed guard fails closed).
 */
export type Requirement = null | string[][];

const named = (directive: ConstDirectiveNode, name: string) =>
  directive.name.value === name || directive.name.value === `federation__${name}`;

export function requirementOf(directives: readonly ConstDirectiveNode[]): Requirement {
  let requirement: Requirement = null;
  for (const directive of directives) {
    let alternatives: string[][];
    if (named(directive, 'authenticated')) alternatives = [[]];
    else if (named(directive, 'requiresScopes')) {
      const argument = directive.arguments?.find((arg) => arg.name.value === 'scopes');
      alternatives = argument ? (valueFromASTUntyped(argument.value) as string[][]) : [];
    } else continue;
    // Several guards on one field must all hold: pair every alternative of each.
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

export function applyAuthDirectives<Context>(schema: GraphQLSchema, options: AuthDirectiveOptions<Context>): GraphQLSchema {
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (field) => {
      const onType = (getNamedType(field.type).astNode?.directives ?? []) as readonly ConstDirectiveNode[];
      const requirement = requirementOf([...(field.astNode?.directives ?? []), ...onType]);
      if (requirement === null) return field;
      const resolve: GraphQLFieldResolver<unknown, Context> = field.resolve ?? defaultFieldResolver;
      return {
        ...field,
        resolve(source, args, context, info) {
          const decision = decide(requirement, options.viewerOf(context));
          if (decision === 'unauthenticated') throw unauthenticated();
          if (decision === 'forbidden') throw forbidden();
          return resolve(source, args, context, info);
        },
      };
    },
  });
}
