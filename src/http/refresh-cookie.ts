import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RefreshTransport } from '../config';
import type { RefreshCookie } from '../graphql/context';

/**
 * `__Host-` pins the cookie to this exact host, Path=/ and Secure. Chromium and Firefox accept Secure
 * cookies over plain HTTP on localhost and 127.0.0.1 (Safari does not); elsewhere, serve over HTTPS.
 */
const REFRESH_COOKIE = '__Host-refresh';

const attributes = { httpOnly: true, secure: true, sameSite: 'strict', path: '/' } as const;

/** Methods on a prototype, not closures per request: every GraphQL request gets one. */
class ExchangeRefreshCookie implements RefreshCookie {
  constructor(
    private readonly request: FastifyRequest,
    private readonly reply: FastifyReply,
  ) {}

  read() {
    const header = this.request.headers.cookie;
    if (!header) return undefined;
    return this.request.server.parseCookie(header)[REFRESH_COOKIE] || undefined;
  }

  set(token: string, expiresAt: Date, maxAgeSeconds: number) {
    this.reply.setCookie(REFRESH_COOKIE, token, { ...attributes, expires: expiresAt, maxAge: maxAgeSeconds });
  }

  clear() {
    this.reply.clearCookie(REFRESH_COOKIE, attributes);
  }
}

export function refreshCookie(request: FastifyRequest, reply: FastifyReply): RefreshCookie {
  return new ExchangeRefreshCookie(request, reply);
}

/**
 * A browser client (the playground, an SPA) can ask for cookie-only delivery so the refresh
 * token never reaches page JavaScript. Honoured only where the operator offers both transports:
 * it never turns the cookie on for `body` nor the body on for `cookie`. Other values are ignored.
 */
export const REFRESH_TRANSPORT_HEADER = 'x-refresh-transport';

export function requestedRefreshTransport(configured: RefreshTransport, header: string | string[] | undefined): RefreshTransport {
  return configured === 'both' && typeof header === 'string' && header.trim().toLowerCase() === 'cookie' ? 'cookie' : configured;
}
