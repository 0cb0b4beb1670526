import type { IssuedTokens } from '../../domain/auth';
import type { GatewayContext } from '../context';
import type { AuthPayload } from '../types/auth-payload';

/**
 * Shapes issued tokens for the client according to REFRESH_TOKEN_TRANSPORT (or `transport`): the
 * refresh token goes into the HttpOnly cookie (cookie, both) and/or the body (body, both).
 */
export function deliverTokens(ctx: GatewayContext, tokens: IssuedTokens, transport = ctx.refreshTransport): AuthPayload {
  ctx.issuedTo.add(tokens.user.id);
  if (transport !== 'body') {
    // Max-Age as well as Expires: a browser whose clock runs ahead would drop a cookie that only
    // has an Expires it already sees as past, and Max-Age wins where both are given.
    const maxAge = Math.max(0, Math.floor((tokens.refreshTokenExpiresAt.getTime() - ctx.deps.clock.now().getTime()) / 1000));
    ctx.refreshCookie.set(tokens.refreshToken, tokens.refreshTokenExpiresAt, maxAge);
  }
  return {
    accessToken: tokens.accessToken,
    tokenType: 'Bearer',
    expiresIn: tokens.expiresIn,
    refreshToken: transport === 'cookie' ? null : tokens.refreshToken,
    refreshTokenExpiresAt: tokens.refreshTokenExpiresAt,
    user: tokens.user,
  };
}

/** The refresh token the request's cookie holds, where the cookie is a transport (not under body). */
export function cookieRefreshToken(ctx: GatewayContext) {
  return ctx.refreshTransport === 'body' ? undefined : ctx.refreshCookie.read();
}

/** The refresh token of a request: the argument if given, else the cookie (unless body-only). */
export function presentedRefreshToken(ctx: GatewayContext, argument: string | null | undefined) {
  if (argument) return { token: argument, inCookie: false };
  const token = cookieRefreshToken(ctx);
  return { token, inCookie: token !== undefined };
}

/**
 * After a logout: clears the refresh cookie where the cookie is a transport, and wherever the
 * request still carries one (set before REFRESH_TOKEN_TRANSPORT became body: it is never read
 * again, but the browser would send it with every request until it expires).
 */
export function clearRefreshCookie(ctx: GatewayContext) {
  if (ctx.refreshTransport !== 'body' || ctx.refreshCookie.read() !== undefined) ctx.refreshCookie.clear();
}
