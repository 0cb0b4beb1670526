import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { login, logout, refresh, register } from '../../domain/auth';
import { describePasswordPolicy } from '../../domain/passwords';
import { InvalidTokenError } from '../../errors';
import type { GatewayContext } from '../context';
import { AuthPayload } from '../types/auth-payload';
import { LoginResult } from '../types/login-result';
import { MfaMethod } from '../types/mfa-challenge';
import { PasswordPolicy } from '../types/password-policy';
import { clearRefreshCookie, cookieRefreshToken, deliverTokens, presentedRefreshToken } from './deliver-tokens';

@Resolver()
export class AuthResolver {
  @Query(() => PasswordPolicy, { description: 'The rules a new password must meet. Public: a sign-up form asks before anyone signs in.' })
  passwordPolicy(@Ctx() ctx: GatewayContext) {
    return describePasswordPolicy(ctx.deps.settings.passwordPolicy);
  }

  @Mutation(() => Boolean, { description: 'True for a new and an existing email alike.' })
  register(
    @Arg('email', () => String) email: string,
    @Arg('password', () => String) password: string,
    @Ctx() ctx: GatewayContext,
  ) {
    return register(ctx.deps, { email, password }, ctx.client);
  }

  @Mutation(() => LoginResult)
  async login(
    @Arg('email', () => String) email: string,
    @Arg('password', () => String) password: string,
    @Ctx() ctx: GatewayContext,
  ): Promise<typeof LoginResult> {
    const outcome = await login(ctx.deps, { email, password }, ctx.client);
    if (outcome.kind === 'authenticated') return deliverTokens(ctx, outcome.tokens);
    return { mfaToken: outcome.mfaToken, expiresAt: outcome.expiresAt, methods: outcome.methods.map((m) => MfaMethod[m]) };
  }

  @Mutation(() => AuthPayload, { description: 'Argument omitted: the refresh cookie is used, and its successor goes into the cookie only (refreshToken null).' })
  async refresh(
    @Arg('refreshToken', () => String, { nullable: true }) refreshToken: string | null,
    @Ctx() ctx: GatewayContext,
  ) {
    const { token, inCookie } = presentedRefreshToken(ctx, refreshToken);
    try {
      const tokens = await refresh(ctx.deps, token, ctx.client);
      // The successor of a token the cookie held goes into the cookie only, whatever the request
      // asked: page script that can send the cookie must not be handed its successor to read.
      return deliverTokens(ctx, tokens, inCookie ? 'cookie' : ctx.refreshTransport);
    } catch (error) {
      // A cookie whose token is dead is cleared, so that the browser stops presenting it. Not one
      // just superseded by a parallel refresh: the browser may already hold its successor.
      if (inCookie && error instanceof InvalidTokenError && !error.superseded) ctx.refreshCookie.clear();
      throw error;
    }
  }

  @Mutation(() => Boolean, { description: 'Ends that session; true whether or not the token was valid.' })
  async logout(
    @Arg('refreshToken', () => String, { nullable: true }) refreshToken: string | null,
    @Ctx() ctx: GatewayContext,
  ) {
    // The cookie is cleared: a session only it held (another than the argument's) ends too, or
    // it would live on, out of the browser's reach, until its idle end.
    const cookie = refreshToken ? cookieRefreshToken(ctx) : undefined;
    const result = await logout(ctx.deps, [presentedRefreshToken(ctx, refreshToken).token, cookie], ctx.client);
    clearRefreshCookie(ctx);
    return result;
  }
}
