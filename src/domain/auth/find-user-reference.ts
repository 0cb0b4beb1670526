import { canonicalId } from '../ids';
import type { AuthDeps } from './deps';

/**
 * A user another subgraph refers to by id, or null (Federation's answer for an entity that does
 * not exist). Whether the caller may read its details is decided per field (canSeeUser), so an
 * anonymous lookup learns only whether the id it sent exists: ids are random UUIDs, which a
 * client knows only from something that already named the user.
 */
export async function findUserReference(deps: Pick<AuthDeps, 'users'>, id: unknown) {
  const userId = canonicalId(id);
  return userId ? deps.users.findById(userId) : null;
}
