import { BadUserInputError } from '../../errors';
import type { AuthDeps } from './deps';

export const MAX_PAGE = 100;
export const DEFAULT_PAGE = 50;

export async function listUsers(deps: Pick<AuthDeps, 'users'>, limit: number, offset: number) {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new BadUserInputError(`limit must be between 1 and ${MAX_PAGE}.`, 'limit');
  }
  if (!Number.isInteger(offset) || offset < 0) throw new BadUserInputError('offset must be 0 or more.', 'offset');
  return deps.users.list(limit, offset);
}
