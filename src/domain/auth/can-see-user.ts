import type { Access } from './decide-access';
import type { Viewer } from './deps';

export const ADMIN_ROLE = 'admin';

export type UserVisibility = Access;

/**
 * Who may read an account's details (everything but its id): the account itself, or an admin.
 * The same rule on every path to a User: me, users, a login payload, a federated reference.
 */
export function canSeeUser(viewer: Viewer | null, userId: string): UserVisibility {
  if (!viewer) return 'unauthenticated';
  return viewer.userId === userId || viewer.roles.includes(ADMIN_ROLE) ? 'allowed' : 'forbidden';
}
