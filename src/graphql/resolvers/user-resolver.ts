import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { ADMIN_ROLE, changePassword, DEFAULT_PAGE, getViewerProfile, listUsers, MAX_PAGE, setUserRoles, type ViewerProfile } from '../../domain/auth';
import { viewerOf, type GatewayContext } from '../context';
import { User } from '../types/user';

/**
 * `me` as graphql reads it: each field is read only when the query selects it, so `me { id
 * roles }` reads no account (getters on the prototype, not per object).
 */
class Me {
  constructor(private readonly profile: ViewerProfile) {}
  get id() {
    return this.profile.id;
  }
  get roles() {
    return this.profile.roles;
  }
  get email() {
    return this.profile.account().then((user) => user.email);
  }
  get mfaEnabled() {
    return this.profile.account().then((user) => user.mfaEnabled);
  }
  get createdAt() {
    return this.profile.account().then((user) => user.createdAt);
  }
}

@Resolver()
export class UserResolver {
  @Authorized()
  @Query(() => User, { description: 'id and roles are those of the access token; the other fields read the account.' })
  me(@Ctx() ctx: GatewayContext) {
    return new Me(getViewerProfile(ctx.deps, viewerOf(ctx)));
  }

  @Authorized(ADMIN_ROLE)
  @Query(() => [User], { description: `Admins only. Accounts oldest first; limit 1–${MAX_PAGE}.` })
  users(
    @Arg('limit', () => Int, { nullable: true, defaultValue: DEFAULT_PAGE }) limit: number | null,
    @Arg('offset', () => Int, { nullable: true, defaultValue: 0 }) offset: number | null,
    @Ctx() ctx: GatewayContext,
  ) {
    return listUsers(ctx.deps, limit ?? DEFAULT_PAGE, offset ?? 0);
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

  @Authorized(ADMIN_ROLE)
  @Mutation(() => User, { description: "Admins only. Takes effect at the user's next refresh; removing a role ends their sessions." })
  setUserRoles(
    @Arg('userId', () => ID) userId: string,
    @Arg('roles', () => [String]) roles: string[],
    @Ctx() ctx: GatewayContext,
  ) {
    const admin = viewerOf(ctx);
    return setUserRoles(ctx.deps, userId, roles, { userId: admin.userId, sessionId: admin.sessionId });
  }
}
