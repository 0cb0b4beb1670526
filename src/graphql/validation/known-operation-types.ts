import { GraphQLError, type ValidationRule } from 'graphql';

/**
 * Operations of a type the schema has no root for (a subscription: the gateway has none) are
 * refused at validation, as graphql-js 17's KnownOperationTypesRule does. graphql 16 lets them
 * through to execution, whose error is a server error (INTERNAL_SERVER_ERROR, an error line in
 * the log) for what is a client's mistake.
 */
export const knownOperationTypes: ValidationRule = (context) => ({
  OperationDefinition(operation) {
    if (context.getSchema().getRootType(operation.operation)) return;
    context.reportError(
      new GraphQLError(`The schema does not support ${operation.operation} operations: send a query or a mutation.`, {
        nodes: [operation],
      }),
    );
  },
});
