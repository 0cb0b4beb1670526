import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config';
import { authenticate, type AuthDeps, type ClientInfo, type Viewer } from '../domain/auth';
import { clientAddress } from '../domain/throttle';
import type { GatewayContext } from '../graphql/context';
import { REFRESH_TRANSPORT_HEADER, refreshCookie, requestedRefreshTransport } from './refresh-cookie';

// RFC 6750: "Bearer" 1*SP b64token; the scheme's name in any case (RFC 9110).
const BEARER = /^Bearer +([A-Za-z0-9._~+/=-]+)$/i;

/** The viewer of a request: whom its bearer token speaks for, or nobody. */
async function viewerOfRequest(deps: AuthDeps, request: FastifyRequest): Promise<Viewer | null> {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? BEARER.exec(header.trim()) : null;
  return match ? authenticate(deps, match[1]!) : null;
}

/**
 * The GraphQL context of one HTTP exchange, the same on every listener. `trustedProxy` names the
 * setting that makes this listener read X-Forwarded-For, when one does.
 */
export function requestContext(config: Config, deps: AuthDeps, trustedProxy?: 'TRUST_PROXY' | 'SUBGRAPH_TRUST_PROXY') {
  const unforwarded = trustedProxy ? onceWithoutForwardedFor(trustedProxy) : undefined;
  return async (request: FastifyRequest, reply: FastifyReply): Promise<GatewayContext> => {
    unforwarded?.(request);
    return {
      requestId: request.id,
      viewer: await viewerOfRequest(deps, request),
      client: clientOf(request),
      deps,
      refreshTransport: requestedRefreshTransport(config.refresh.transport, request.headers[REFRESH_TRANSPORT_HEADER]),
      refreshCookie: refreshCookie(request, reply),
      issuedTo: new Set(),
    };
  };
}

/**
 * Says once that a request reached a listener that trusts a proxy without X-Forwarded-For: it
 * counts as the proxy's own address, which every such client then shares for the brute-force
 * limits (README's router.yaml propagates the header; a router configured without it sends none).
 */
function onceWithoutForwardedFor(setting: string) {
  let warned = false;
  return (request: FastifyRequest) => {
    if (warned || request.headers['x-forwarded-for'] !== undefined) return;
    warned = true;
    request.log.warn(
      `a GraphQL request came without X-Forwarded-For although ${setting} is set: it counts as the proxy's own address, which every such client shares for the rate limits; have the proxy (or router) send the header`,
    );
  };
}

/**
 * The client of a request, its address read when first asked for (the limits, the audit lines,
 * a new session): a query that needs none, as most guarded ones, does not parse it.
 */
function clientOf(request: FastifyRequest): ClientInfo {
  let ip: string | null | undefined;
  return {
    get ip() {
      if (ip === undefined) ip = clientIp(request);
      return ip;
    },
    userAgent: request.headers['user-agent'] ?? null,
  };
}

let warnedUnreadable = false;

/**
 * The client's address in its plain form (clientAddress). One that is no address at all, which
 * only a trusted proxy can hand over, is counted in the shared 'unknown' bucket: said once, since
 * it means the proxy writes something TRUST_PROXY's reading does not expect.
 */
function clientIp(request: FastifyRequest) {
  const ip = clientAddress(request.ip);
  if (ip === null && request.ip && !warnedUnreadable) {
    warnedUnreadable = true;
    request.log.warn('a client address is not an IP address (as the trusted proxy wrote it in X-Forwarded-For): such requests share one rate-limit bucket; check TRUST_PROXY and what the proxy sends');
  }
  return ip;
}
