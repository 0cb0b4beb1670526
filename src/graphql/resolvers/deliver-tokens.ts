import type { IssuedTokens } from '../../domain/auth';
import type { GatewayContext } from '../context';
import type { AuthPayload } from '../types/auth-payload';

/**
 * Shapes issued tokens for the client according to REFRESH_TOKEN_TRANSPORT (or `transport`): the
 * refresh token goes into the HttpOnly cookie (cookie, both) and/or the body (body, both).
 */
export function deliverTokens(ctx: GatewayContext, tokens: IssuedTokens, transport = ctx.refreshTransport): AuthPayload {
  ctx.issuedTo.add(tokens.user.id);
  if (transport !== 'body') ctx.refreshCookie.set(tokens.refreshToken, tokens.refreshTokenExpiresAt);
  return {
    accessToken: tokens.accessToken,
    tokenType: 'Bearer',
    expiresIn: tokens.expiresIn,
    refreshToken: transport === 'cookie' ? null : tokens.refreshToken,
    refreshTokenExpiresAt: tokens.refreshTokenExpiresAt,
    user: tokens.user,
  };
}

/** The refresh token of a request: the argument if given, else the cookie (unless body-only). */
export function presentedRefreshToken(ctx: GatewayContext, argument: string | null | undefined) {
  if (argument) return { token: argument, inCookie: false };
  const token = ctx.refreshTransport === 'body' ? undefined : ctx.refreshCookie.read();
  return { token, inCookie: token !== undefined };
}
