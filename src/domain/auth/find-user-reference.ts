import type { UserRecord } from '../ports';
import { canonicalId } from '../ids';
import type { AuthDeps } from './deps';

/**
 * The users other subgraphs refer to by id, in the order asked, null for one that does not exist
 * (Federation's answer for such an entity): one statement for the lot, each id asked once however
 * often it is named. Whether the caller may read a user's details is decided per field
 * (canSeeUser), so an anonymous lookup learns only whether the ids it sent exist: ids are random
 * UUIDs, which a client knows only from something that already named the user. An id that is no
 * UUID matches nothing, without asking the database.
 */
export async function findUserReferences(deps: Pick<AuthDeps, 'users'>, ids: readonly unknown[]): Promise<Array<UserRecord | null>> {
  const canonical = ids.map(canonicalId);
  const wanted = [...new Set(canonical.filter((id): id is string => id !== null))];
  const found = new Map((await deps.users.findByIds(wanted)).map((user) => [user.id, user]));
  return canonical.map((id) => (id === null ? null : found.get(id) ?? null));
}
