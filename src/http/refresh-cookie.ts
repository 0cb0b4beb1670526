import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RefreshCookie } from '../graphql/context';

/**
 * `__Host-` pins the cookie to this exact host, Path=/ and Secure. Browsers accept Secure
 * cookies over plain HTTP only on localhost and 127.0.0.1; anywhere else, serve over HTTPS.
 */
export const REFRESH_COOKIE = '__Host-refresh';

const attributes = { httpOnly: true, secure: true, sameSite: 'strict', path: '/' } as const;

export function refreshCookie(request: FastifyRequest, reply: FastifyReply): RefreshCookie {
  return {
    read: () => request.cookies[REFRESH_COOKIE] || undefined,
    set: (token, expiresAt) => {
      reply.setCookie(REFRESH_COOKIE, token, { ...attributes, expires: expiresAt });
    },
    clear: () => {
      reply.clearCookie(REFRESH_COOKIE, attributes);
    },
  };
}
