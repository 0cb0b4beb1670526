import type { Clock } from '../clock';
import type { SessionStore } from '../ports';

/**
 * Revoked sessions are kept this long so that a token of a revoked family is still recognised
 * (and logged) as reuse; after that it is merely unknown, which answers the same INVALID_TOKEN.
 */
export const PRUNE_RETENTION_SECONDS = 86_400;

/** Deletes sessions (and their tokens) that expired or were revoked over a day ago. */
export function prune(deps: { sessions: SessionStore; clock: Clock }) {
  return deps.sessions.prune(new Date(deps.clock.now().getTime() - PRUNE_RETENTION_SECONDS * 1000));
}
