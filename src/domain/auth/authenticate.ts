import { verifyAccessToken } from '../tokens';
import type { AuthDeps, Viewer } from './deps';

/**
 * Who an access token speaks for: the viewer of a valid token whose session has not ended, or
 * nobody. A token of a session that has ended is as good as none, though its signature holds.
 */
export async function authenticate(
  deps: Pick<AuthDeps, 'clock' | 'keys' | 'settings' | 'verifiedTokens' | 'revocations'>,
  token: string,
): Promise<Viewer | null> {
  const now = deps.clock.now();
  const claims = await verifyAccessToken(deps.keys, deps.settings.jwt, now, token, deps.verifiedTokens);
  if (!claims || deps.revocations.isRevoked(claims.sessionId, now)) return null;
  return claims; // a Viewer as it is (frozen when it comes from the verified-token cache)
}
