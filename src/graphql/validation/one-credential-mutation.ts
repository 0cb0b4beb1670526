import { GraphQLError, Kind, type SelectionSetNode, type ValidationRule } from 'graphql';

/**
 * Mutations that check a secret: each is one guess, so an operation may hold only one. The MFA
 * management mutations check a password or a code too, so they count as well.
 */
export const CREDENTIAL_MUTATIONS = new Set([
  'login',
  'register',
  'verifyMfa',
  'refresh',
  'changePassword',
  'enrollMfa',
  'confirmMfa',
  'disableMfa',
  'regenerateRecoveryCodes',
]);

/**
 * At most one credential mutation per operation, counted through aliases and fragments, so one
 * request cannot multiply guesses. Refused at validation: nothing runs, no password is checked.
 */
export const oneCredentialMutationPerOperation: ValidationRule = (context) => {
  const count = (selectionSet: SelectionSetNode, seen: Set<string>): number => {
    let n = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (CREDENTIAL_MUTATIONS.has(selection.name.value)) n++;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        n += count(selection.selectionSet, seen);
      } else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = context.getFragment(selection.name.value);
        if (fragment) n += count(fragment.selectionSet, seen);
      }
    }
    return n;
  };
  return {
    OperationDefinition(operation) {
      if (operation.operation !== 'mutation') return;
      if (count(operation.selectionSet, new Set()) > 1) {
        context.reportError(
          new GraphQLError(
            `At most one credential mutation (${[...CREDENTIAL_MUTATIONS].join(', ')}) per operation.`,
            { nodes: [operation] },
          ),
        );
      }
    },
  };
};
