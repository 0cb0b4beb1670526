import type { AuthChecker } from 'type-graphql';
import { forbidden, unauthenticated } from './errors';
import type { SubgraphViewer } from './verifier';

/**
 * A type-graphql authChecker with the gateway's own semantics: no viewer is UNAUTHENTICATED;
 * `@Authorized()` admits any viewer; `@Authorized('a', 'b')` admits a viewer holding any one of
 * the roles, anyone else is FORBIDDEN. (type-graphql's default would answer FORBIDDEN to an
 * anonymous caller of a role-guarded field.)
 */
export function createAuthChecker<Context extends object>(viewerOf: (context: Context) => SubgraphViewer | null | undefined): AuthChecker<Context> {
  return ({ context }, roles) => {
    const viewer = viewerOf(context);
    if (!viewer) throw unauthenticated();
    if (roles.length > 0 && !roles.some((role) => viewer.roles.includes(String(role)))) throw forbidden();
    return true;
  };
}
