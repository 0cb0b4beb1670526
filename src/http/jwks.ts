import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { JWKS_MAX_AGE_SECONDS, type KeyRing } from '../domain/tokens';

/**
 * Discovery for everyone who verifies the gateway's JWTs: the public signing keys (public
 * members only), cacheable with an ETag, and an OpenID-style discovery document so tools that
 * start from an issuer URL find them.
 */
export function registerJwksRoutes(app: FastifyInstance, keys: () => KeyRing, settings: { issuer: string }) {
  app.get('/.well-known/jwks.json', async (request, reply) => {
    const jwks = keys().jwks;
    const body = JSON.stringify(jwks);
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    reply.header('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`).header('etag', etag);
    if (ifNoneMatch(request.headers['if-none-match'], etag)) return reply.code(304).send();
    return reply.type('application/json; charset=utf-8').send(body);
  });

  const issuer = settings.issuer.replace(/\/$/, '');
  // The algorithms of the published keys, not this instance's JWT_ALG: during a change of
  // JWT_ALG, instances on either algorithm publish keys of both (and take tokens of both), so
  // every instance answers the same document, as it answers the same key set.
  const discovery = (ring: KeyRing) => ({
    issuer: settings.issuer,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    id_token_signing_alg_values_supported: ring.algorithms,
    subject_types_supported: ['public'],
    claims_supported: ['iss', 'aud', 'sub', 'sid', 'jti', 'roles', 'scope', 'amr', 'iat', 'exp'],
  });
  app.get('/.well-known/openid-configuration', async (_request, reply) =>
    reply.header('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`).send(discovery(keys())),
  );
}

function ifNoneMatch(header: string | undefined, etag: string) {
  if (!header) return false;
  return header.split(',').some((candidate) => {
    const tag = candidate.trim().replace(/^W\//, '');
    return tag === etag || tag === '*';
  });
}
