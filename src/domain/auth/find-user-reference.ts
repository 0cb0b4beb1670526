import { canonicalId } from '../ids';
import type { AuthDeps } from './deps';

/**
 * A user another subgraph refers to by id, or null. Whether the caller may read its details is
 * decided per field (canSeeUser), so an anonymous lookup learns nothing beyond the id it sent.
 */
export async function findUserReference(deps: Pick<AuthDeps, 'users'>, id: unknown) {
  const userId = canonicalId(id);
  return userId ? deps.users.findById(userId) : null;
}
