import { GraphQLError } from 'graphql';
import { ForbiddenError, UnauthenticatedError, type GatewayError } from '../errors';

/** The gateway's own errors, codes and messages, as GraphQL errors a subgraph's server passes through. */
const passedThrough = (error: GatewayError) => new GraphQLError(error.message, { extensions: { code: error.code, ...error.extensions } });
export const unauthenticated = () => passedThrough(new UnauthenticatedError());
export const forbidden = () => passedThrough(new ForbiddenError());
