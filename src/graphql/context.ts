import type { AuthDeps, ClientInfo, Viewer } from '../domain/auth';
import type { RefreshTransport } from '../config';

/** Reads and writes the refresh-token cookie of the current HTTP exchange. */
export interface RefreshCookie {
  read(): string | undefined;
  /** `maxAgeSeconds`: the same end, counted from now (Max-Age). */
  set(token: string, expiresAt: Date, maxAgeSeconds: number): void;
  clear(): void;
}

/** The one typed request context every resolver receives. */
export interface GatewayContext {
  requestId: string;
  viewer: Viewer | null;
  client: ClientInfo;
  deps: AuthDeps;
  refreshTransport: RefreshTransport;
  refreshCookie: RefreshCookie;
  /** Users this request has just signed in (login, verifyMfa, refresh): they may see their own payload. */
  issuedTo: Set<string>;
}

/** For resolvers behind @Authorized(): the auth checker has already ensured a viewer. */
export function viewerOf(ctx: GatewayContext): Viewer {
  if (!ctx.viewer) throw new Error('viewerOf() used on a field without @Authorized()');
  return ctx.viewer;
}
