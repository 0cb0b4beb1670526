import { Arg, Authorized, Ctx, Mutation, Resolver } from 'type-graphql';
import { confirmMfa, disableMfa, enrollMfa, regenerateRecoveryCodes, verifyMfa } from '../../domain/mfa';
import { viewerOf, type GatewayContext } from '../context';
import { AuthPayload } from '../types/auth-payload';
import { MfaEnrollment } from '../types/mfa-enrollment';
import { deliverTokens } from './deliver-tokens';

@Resolver()
export class MfaResolver {
  @Authorized()
  @Mutation(() => MfaEnrollment, { description: 'Needs the current password; starts or restarts a pending enrolment.' })
  enrollMfa(@Arg('password', () => String) password: string, @Ctx() ctx: GatewayContext) {
    return enrollMfa(ctx.deps, viewerOf(ctx), password, ctx.client);
  }

  @Authorized()
  @Mutation(() => [String], { description: 'Enables MFA; returns 10 recovery codes, shown once.' })
  confirmMfa(@Arg('code', () => String) code: string, @Ctx() ctx: GatewayContext) {
    return confirmMfa(ctx.deps, viewerOf(ctx), code);
  }

  @Mutation(() => AuthPayload, { description: 'Second login step: a TOTP or a recovery code.' })
  async verifyMfa(
    @Arg('mfaToken', () => String) mfaToken: string,
    @Arg('code', () => String) code: string,
    @Ctx() ctx: GatewayContext,
  ) {
    return deliverTokens(ctx, await verifyMfa(ctx.deps, mfaToken, code, ctx.client));
  }

  @Authorized()
  @Mutation(() => Boolean, { description: 'A current TOTP or a recovery code.' })
  disableMfa(@Arg('code', () => String) code: string, @Ctx() ctx: GatewayContext) {
    return disableMfa(ctx.deps, viewerOf(ctx), code);
  }

  @Authorized()
  @Mutation(() => [String], { description: 'A current TOTP; the old set dies.' })
  regenerateRecoveryCodes(@Arg('code', () => String) code: string, @Ctx() ctx: GatewayContext) {
    return regenerateRecoveryCodes(ctx.deps, viewerOf(ctx), code);
  }
}
