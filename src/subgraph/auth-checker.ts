// The file, not the domain's index: the kit's bundle takes only what it uses.
import { decideAccess } from '../domain/auth/decide-access';
import { forbidden, unauthenticated } from './errors.js';
import type { SubgraphViewer } from './verifier.js';

/**
 * A type-graphql authChecker with the gateway's own semantics: no viewer is UNAUTHENTICATED;
 * `@Authorized()` admits any viewer; `@Authorized('a', 'b')` admits a viewer holding any one of
 * the roles, anyone else is FORBIDDEN. (type-graphql's default would answer FORBIDDEN to an
 * anonymous caller of a role-guarded field.) Typed by its shape, which type-graphql's
 * `AuthChecker<Context>` takes, so that the kit needs no type-graphql of its own.
 */
export function createAuthChecker<Context extends object>(
  viewerOf: (context: Context) => SubgraphViewer | null | undefined,
): (resolverData: { context: Context }, roles: readonly string[]) => boolean {
  return ({ context }, roles) => {
    const access = decideAccess(viewerOf(context), roles.map(String));
    if (access === 'unauthenticated') throw unauthenticated();
    if (access === 'forbidden') throw forbidden();
    return true;
  };
}
