import type { MiddlewareFn } from 'type-graphql';
import { canSeeUser } from '../domain/auth';
import { ForbiddenError, UnauthenticatedError } from '../errors';
import type { GatewayContext } from './context';

/**
 * Guards a User's details on every path (me, users, a login payload, `_entities`): the user
 * themself or an admin. A request that has just signed the user in may read its own payload.
 */
export const SelfOrAdmin: MiddlewareFn<GatewayContext> = ({ root, context }, next) => {
  const userId = (root as { id: string }).id;
  if (context.issuedTo.has(userId)) return next();
  const decision = canSeeUser(context.viewer, userId);
  if (decision === 'unauthenticated') throw new UnauthenticatedError();
  if (decision === 'forbidden') throw new ForbiddenError();
  return next();
};
