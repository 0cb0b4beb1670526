import { getMetadataStorage } from 'type-graphql';
import { gatewaySchema } from '../schema';

/**
 * Every field guarded by @Authorized, as `Type.field` → its roles (empty: any signed-in user),
 * read from type-graphql's metadata so the subgraph directives cannot drift from the guards.
 */
export function guardedFields(): Map<string, string[]> {
  const schema = gatewaySchema(); // the roles are attached to the metadata when the schema is built
  const storage = getMetadataStorage();
  const guarded = new Map<string, string[]>();
  // The metadata is global: keep only fields of this schema, not of other classes loaded alongside.
  const inSchema = (typeName: string, fieldName: string) => {
    const type = schema.getType(typeName);
    return type !== undefined && 'getFields' in type && fieldName in type.getFields();
  };
  const add = (typeName: string, fieldName: string, roles: unknown[] | undefined) => {
    if (roles && inSchema(typeName, fieldName)) guarded.set(`${typeName}.${fieldName}`, roles.map(String));
  };
  for (const query of storage.queries) add('Query', query.schemaName, query.roles);
  for (const mutation of storage.mutations) add('Mutation', mutation.schemaName, mutation.roles);
  for (const field of storage.fields) {
    const owner = storage.objectTypes.find((type) => type.target === field.target);
    if (owner) add(owner.name, field.schemaName, field.roles);
  }
  for (const resolver of storage.fieldResolvers) {
    const owner = resolver.getObjectType?.();
    const ownerType = owner && storage.objectTypes.find((type) => type.target === owner);
    if (ownerType) add(ownerType.name, resolver.schemaName, resolver.roles);
  }
  return guarded;
}
