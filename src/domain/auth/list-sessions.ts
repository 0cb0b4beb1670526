import type { SessionRecord } from '../ports';
import type { AuthDeps, Viewer } from './deps';

export interface SessionView extends SessionRecord {
  current: boolean;
}

/** The caller's own live sessions, oldest first, with the one this token belongs to marked. */
export async function listSessions(deps: Pick<AuthDeps, 'sessions' | 'clock'>, viewer: Viewer): Promise<SessionView[]> {
  const live = await deps.sessions.listLive(viewer.userId, deps.clock.now());
  return live.map((s) => ({ ...s, current: s.id === viewer.sessionId }));
}
