import type { ResolverData } from 'type-graphql';
import { decideAccess } from '../domain/auth';
import { ForbiddenError, UnauthenticatedError } from '../errors';
import type { GatewayContext } from './context';

/** Decides @Authorized by the gateway's rule (decideAccess), throwing the code it refuses with. */
export const authChecker = ({ context }: ResolverData<GatewayContext>, roles: string[]): boolean => {
  const access = decideAccess(context.viewer, roles);
  if (access === 'unauthenticated') throw new UnauthenticatedError();
  if (access === 'forbidden') throw new ForbiddenError();
  return true;
};
