import type { ResolverData } from 'type-graphql';
import { ForbiddenError, UnauthenticatedError } from '../errors';
import type { GatewayContext } from './context';

/**
 * Decides @Authorized: no viewer is UNAUTHENTICATED, a viewer without any of the listed roles
 * is FORBIDDEN. (type-graphql's default picks the code by the number of roles instead, which
 * tells an anonymous caller of an admin field FORBIDDEN.)
 */
export const authChecker = ({ context }: ResolverData<GatewayContext>, roles: string[]): boolean => {
  const viewer = context.viewer;
  if (!viewer) throw new UnauthenticatedError();
  if (roles.length > 0 && !roles.some((role) => viewer.roles.includes(role))) throw new ForbiddenError();
  return true;
};
