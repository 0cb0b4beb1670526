import { GraphQLError, type ValidationRule } from 'graphql';

/**
 * The alias limit (graphql-armor) leaves out aliases of `__typename`, which run nothing, but it
 * goes by the alias as well as by the field: a field aliased `__typename` (`__typename: me { id }`)
 * ran uncounted. The alias is kept for the field it names.
 */
export const typenameAliasOnlyForTypename: ValidationRule = (context) => ({
  Field(field) {
    if (field.alias?.value !== '__typename' || field.name.value === '__typename') return;
    context.reportError(new GraphQLError('The alias __typename is kept for the __typename field.', { nodes: [field] }));
  },
});
