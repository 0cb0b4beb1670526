/** What a guard decides: pass, or the code to refuse with. */
export type Access = 'allowed' | 'unauthenticated' | 'forbidden';

/**
 * `@Authorized`'s rule, for the gateway and for the subgraph kit alike: no viewer is
 * unauthenticated; with no role listed any viewer passes, otherwise a viewer holding any one of
 * them, and anyone else is forbidden. (type-graphql's default picks the code by the number of
 * roles instead, which tells an anonymous caller of an admin field FORBIDDEN.)
 */
export function decideAccess(viewer: { roles: readonly string[] } | null | undefined, anyOfRoles: readonly string[]): Access {
  if (!viewer) return 'unauthenticated';
  return anyOfRoles.length === 0 || anyOfRoles.some((role) => viewer.roles.includes(role)) ? 'allowed' : 'forbidden';
}
