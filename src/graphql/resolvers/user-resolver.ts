import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { changePassword, getViewerUser, listUsers, setUserRoles } from '../../domain/auth';
import { viewerOf, type GatewayContext } from '../context';
import { User } from '../types/user';

@Resolver()
export class UserResolver {
  @Authorized()
  @Query(() => User)
  me(@Ctx() ctx: GatewayContext) {
    return getViewerUser(ctx.deps, viewerOf(ctx));
  }

  @Authorized('admin')
  @Query(() => [User])
  users(
    @Arg('limit', () => Int, { nullable: true, defaultValue: 50 }) limit: number | null,
    @Arg('offset', () => Int, { nullable: true, defaultValue: 0 }) offset: number | null,
    @Ctx() ctx: GatewayContext,
  ) {
    return listUsers(ctx.deps, limit ?? 50, offset ?? 0);
  }

  @Authorized()
  @Mutation(() => Boolean, { description: 'Ends every other session of the caller.' })
  changePassword(
    @Arg('currentPassword', () => String) currentPassword: string,
    @Arg('newPassword', () => String) newPassword: string,
    @Ctx() ctx: GatewayContext,
  ) {
    return changePassword(ctx.deps, viewerOf(ctx), { currentPassword, newPassword }, ctx.client);
  }

  @Authorized('admin')
  @Mutation(() => User, { description: "Takes effect at the user's next refresh; removing a role ends their sessions." })
  setUserRoles(
    @Arg('userId', () => ID) userId: string,
    @Arg('roles', () => [String]) roles: string[],
    @Ctx() ctx: GatewayContext,
  ) {
    return setUserRoles(ctx.deps, userId, roles);
  }
}
