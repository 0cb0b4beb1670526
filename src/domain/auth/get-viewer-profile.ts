import type { UserRecord } from '../ports';
import type { AuthDeps, Viewer } from './deps';
import { getViewerUser } from './get-viewer-user';

export interface ViewerProfile {
  id: string;
  roles: string[];
  /** The account record, read on first use and then remembered (once per request). */
  account(): Promise<UserRecord>;
}

/**
 * The caller as `me` shows them. `id` and `roles` come from the verified access token (the
 * roles that @Authorized checks; an admin's change reaches them at the next refresh), so a query
 * for only those costs no database round trip. The rest of the account is read on first use,
 * under getViewerUser's rule: a user that no longer exists or is disabled is as good as none.
 * (Disabling a user also ends their sessions, so the guard refuses their tokens anyway.)
 */
export function getViewerProfile(deps: Pick<AuthDeps, 'users'>, viewer: Viewer): ViewerProfile {
  let account: Promise<UserRecord> | undefined;
  return {
    id: viewer.userId,
    roles: viewer.roles,
    account: () => (account ??= getViewerUser(deps, viewer)),
  };
}
