import { GraphQLError } from 'graphql';
import { ErrorCode } from '../errors';

/** The gateway's own codes and messages, as GraphQL errors a subgraph's server passes through. */
export const unauthenticated = () =>
  new GraphQLError('Authentication required.', { extensions: { code: ErrorCode.UNAUTHENTICATED } });
export const forbidden = () => new GraphQLError('Not allowed.', { extensions: { code: ErrorCode.FORBIDDEN } });
