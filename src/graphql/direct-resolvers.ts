/**
 * type-graphql runs @Authorized as an async middleware and resolves every @Arg through an async
 * validation step, so each operation becomes a chain of promises before its method runs (about a
 * sixth of a guarded query's cost, measured). For the operations whose parameters are only
 * scalar @Arg and @Ctx, this calls the method directly instead, after the same authChecker with
 * the same roles (both read from @Authorized's metadata), synchronously. Any other operation
 * keeps type-graphql's own resolver, middleware and all; so does every operation of a schema
 * built with global middlewares or validation, which type-graphql runs around each of them.
 * An expected failure leaves a direct resolver already located, without a stack trace.
 */
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import {
  GraphQLScalarType,
  locatedError,
  responsePathAsArray,
  type GraphQLFieldResolver,
  type GraphQLResolveInfo,
  type GraphQLSchema,
} from 'graphql';
import { getMetadataStorage, type ResolverData } from 'type-graphql';
import { ForbiddenError, GatewayError, UnauthenticatedError } from '../errors';

export type SyncAuthChecker<C extends object> = (data: ResolverData<C>, roles: string[]) => boolean;

type Operation = ReturnType<typeof getMetadataStorage>['queries'][number];
type Param = NonNullable<Operation['params']>[number];
type Getter<C> = (args: Record<string, unknown>, context: C) => unknown;

const SCALAR_CLASSES: unknown[] = [String, Number, Boolean];

/** How to read one parameter without type-graphql, or undefined when it needs type-graphql. */
function directParam<C extends object>(param: Param): Getter<C> | undefined {
  if (param.kind === 'context') {
    const property = param.propertyName;
    return property ? (_args, context) => (context as Record<string, unknown>)[property] : (_args, context) => context;
  }
  if (param.kind === 'arg' && param.validateFn === undefined) {
    const type = param.getType();
    // A scalar reaches the method as graphql coerced it; an input class would need converting.
    if (type instanceof GraphQLScalarType || SCALAR_CLASSES.includes(type)) return (args) => args[param.name];
  }
  return undefined;
}

function directResolver<C extends object>(operation: Operation, authChecker: SyncAuthChecker<C>): GraphQLFieldResolver<unknown, C> | undefined {
  if (operation.middlewares && operation.middlewares.length > 0) return undefined;
  const params = [...(operation.params ?? [])].sort((a, b) => a.index - b.index);
  const getters = params.map((param) => directParam<C>(param));
  if (getters.some((getter) => getter === undefined)) return undefined;
  const read = getters as Array<Getter<C>>;
  const roles = operation.roles?.map(String);
  const instance = new (operation.target as new () => Record<string, (...values: unknown[]) => unknown>)();
  const method = instance[operation.methodName]!;
  return (root, args, context, info) => {
    let result: unknown;
    try {
      // Anything but true refuses (a checker that returned a promise would not have decided).
      if (roles && authChecker({ root, args, context, info }, roles) !== true) {
        throw roles.length === 0 ? new UnauthenticatedError() : new ForbiddenError();
      }
      result = method.apply(instance, read.map((get) => get(args, context)));
    } catch (error) {
      throw located(error, info);
    }
    if (!(result instanceof Promise)) return result;
    return result.catch((error: unknown) => {
      throw located(error, info);
    });
  };
}

/**
 * graphql-js turns whatever a resolver throws into a GraphQLError, whose constructor captures a
 * stack trace of its own, which V8 then formats as the constructor sets the error's `stack` (seen
 * in a CPU profile): under a login flood, a tenth of the work of every shed login. An
 * expected failure (a GatewayError) needs none, so it is located here without one; graphql-js
 * passes an error that is already located on unchanged. Anything else keeps graphql-js's way.
 */
function located(error: unknown, info: GraphQLResolveInfo): unknown {
  if (!(error instanceof GatewayError)) return error;
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return locatedError(error, info.fieldNodes, responsePathAsArray(info.path));
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The options `schema` was built with (buildSchemaSync's): what type-graphql runs around each operation. */
export interface BuiltWith<C extends object> {
  /** The classes the schema was built from (type-graphql's metadata is global). */
  resolvers: readonly Function[];
  authChecker: SyncAuthChecker<C>;
  globalMiddlewares?: readonly unknown[];
  validate?: unknown;
  validateFn?: unknown;
  /** 'null' answers null where the guard refuses, which a direct call would not. */
  authMode?: string;
  /** Resolver instances from a container, per call, where a direct call makes its own once. */
  container?: unknown;
}

export function directResolvers<C extends object>(schema: GraphQLSchema, { resolvers, authChecker, ...around }: BuiltWith<C>): GraphQLSchema {
  // A direct call would skip them, or differ.
  if ((around.globalMiddlewares?.length ?? 0) > 0 || around.validate || around.validateFn || around.authMode === 'null' || around.container) {
    return schema;
  }
  const storage = getMetadataStorage();
  const direct = new Map<string, GraphQLFieldResolver<unknown, C>>();
  const operations = [
    ['Query', storage.queries],
    ['Mutation', storage.mutations],
  ] as const;
  for (const [typeName, list] of operations) {
    for (const operation of list) {
      if (!resolvers.includes(operation.target)) continue;
      const resolve = directResolver(operation, authChecker);
      if (resolve) direct.set(`${typeName}.${operation.schemaName}`, resolve);
    }
  }
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (field, fieldName, typeName) => {
      const resolve = direct.get(`${typeName}.${fieldName}`);
      return resolve ? { ...field, resolve } : field;
    },
  });
}
