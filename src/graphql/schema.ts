import 'reflect-metadata';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchemaSync } from 'type-graphql';
import { authChecker } from './auth-checker';
import { directResolvers } from './direct-resolvers';
import { guardUserFields } from './user-visibility';
import { AuthResolver } from './resolvers/auth-resolver';
import { MfaResolver } from './resolvers/mfa-resolver';
import { SessionResolver } from './resolvers/session-resolver';
import { UserResolver } from './resolvers/user-resolver';

export const RESOLVERS = [AuthResolver, MfaResolver, SessionResolver, UserResolver] as const;
const BUILD = { resolvers: RESOLVERS, authChecker, validate: false } as const;

let schema: GraphQLSchema | undefined;

/** The public schema, built once per process (type-graphql's metadata is global). */
export function gatewaySchema(): GraphQLSchema {
  schema ??= directResolvers(guardUserFields(buildSchemaSync(BUILD)), BUILD);
  return schema;
}

const SCHEMA_HEADER = '# Generated from the type-graphql resolvers by `npm run schema`. Do not edit.\n\n';

/** The text committed as schema.graphql. */
export const printGatewaySchema = () => SCHEMA_HEADER + printSchema(lexicographicSortSchema(gatewaySchema())) + '\n';
