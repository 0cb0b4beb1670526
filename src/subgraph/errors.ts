import { GraphQLError } from 'graphql';
import { ForbiddenError, ServiceUnavailableError, toWire, UnauthenticatedError, type GatewayError } from '../errors';

/** The gateway's own errors, codes and messages, as GraphQL errors a subgraph's server passes through. */
const passedThrough = (error: GatewayError) => {
  const { message, extensions } = toWire(error);
  return new GraphQLError(message, { extensions });
};
export const unauthenticated = () => passedThrough(new UnauthenticatedError());
export const forbidden = () => passedThrough(new ForbiddenError());
/**
 * For a token the kit could not check for now (reason 'unavailable': no key set fetched yet):
 * the client retries, where UNAUTHENTICATED would send it to sign in again.
 */
export const serviceUnavailable = () => passedThrough(new ServiceUnavailableError());
