import { BadUserInputError, UnauthenticatedError } from '../../errors';
import { canonicalId } from '../ids';
import type { RoleChanger } from '../ports';
import type { AuthDeps } from './deps';

const ROLE = /^[a-z][a-z0-9_:-]{0,63}$/;
/**
 * Roles per user. Every access token carries them twice (`roles` and `scope`): 32 of the longest
 * make a token of about 6 KB, which still fits the 8 KB header limit common to proxies; many more
 * would lock the user out with 431 answers everywhere the token goes.
 */
const MAX_ROLES = 32;

export function validateRoles(roles: string[]): string[] {
  for (const role of roles) {
    if (!ROLE.test(role)) {
      throw new BadUserInputError('Roles are lowercase: a letter, then letters, digits, _ : or -.', 'roles');
    }
  }
  return [...new Set(roles)].sort();
}

/**
 * The roles after a change, refused beyond MAX_ROLES unless only some of the current ones are
 * taken away (a user given more earlier can still lose some, never gain any).
 */
function rolesAfter(current: string[], wanted: string[]) {
  const after = validateRoles(wanted);
  if (after.length > MAX_ROLES && !after.every((role) => current.includes(role))) {
    throw new BadUserInputError(`At most ${MAX_ROLES} roles per user.`, 'roles');
  }
  return after;
}

type Deps = Pick<AuthDeps, 'sessions' | 'clock' | 'audit'>;

/**
 * Applies a change to a user's roles atomically. New roles reach tokens at the user's next
 * refresh (refresh re-reads them); removing any role also ends the user's sessions in the same
 * transaction, so no token keeps a removed role past its short lifetime, and a change that fails
 * changes nothing (a retry finds the roles as they were). A change asked for by an admin whose
 * session has ended meanwhile (demoted, disabled, logged out) is refused with UNAUTHENTICATED.
 * Audited ('roles changed') with `by`, the admin's user id, when they changed; the admin CLI
 * leaves `by` out, its audit lines carry their own.
 */
export async function changeRoles(deps: Deps, id: string, change: (current: string[]) => string[], by?: RoleChanger) {
  const userId = canonicalId(id);
  const result = userId
    ? await deps.sessions.changeRoles({ userId, change: (current) => rolesAfter(current, change(current)), now: deps.clock.now(), askedBy: by })
    : ({ kind: 'unknown_user' } as const);
  if (result.kind === 'unknown_user') throw new BadUserInputError('Unknown user.', 'userId');
  if (result.kind === 'caller_session_ended') throw new UnauthenticatedError();
  const { before, after, ended } = result;
  const changed = after.roles.length !== before.length || before.some((role) => !after.roles.includes(role));
  if (changed) deps.audit('roles changed', { ...(by && { by: by.userId }), userId: after.id, before, roles: after.roles, endedSessions: ended.length });
  return { user: after, changed, endedSessions: ended.length };
}
