import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { listSessions, logoutAll, revokeSession } from '../../domain/auth';
import { viewerOf, type GatewayContext } from '../context';
import { Session } from '../types/session';
import { clearRefreshCookie } from './deliver-tokens';

@Resolver()
export class SessionResolver {
  @Authorized()
  @Query(() => [Session], { description: "The caller's own live sessions." })
  sessions(@Ctx() ctx: GatewayContext) {
    return listSessions(ctx.deps, viewerOf(ctx));
  }

  @Authorized()
  @Mutation(() => Boolean, { description: 'Ends every session of the caller.' })
  async logoutAll(@Ctx() ctx: GatewayContext) {
    const result = await logoutAll(ctx.deps, viewerOf(ctx));
    // The caller's session ended too: its cookie holds nothing worth keeping.
    clearRefreshCookie(ctx);
    return result;
  }

  @Authorized()
  @Mutation(() => Boolean, { description: "True when it ended one of the caller's live sessions." })
  revokeSession(@Arg('id', () => ID) id: string, @Ctx() ctx: GatewayContext) {
    return revokeSession(ctx.deps, viewerOf(ctx), id);
  }
}
