import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { RateLimitedError } from '../../errors';

/**
 * The headers of a GraphQL answer with errors (one without errors leaves here untouched: the
 * listener is one shared object, so it costs a request nothing to make):
 * - `Retry-After` with the largest retryAfter among RATE_LIMITED fields, which keep the response
 *   at HTTP 200 (other fields still answer);
 * - `Cache-Control: no-store` again: the HTTP layer sets it on every answer (base-app.ts), but
 *   some of Apollo's own errors bring a cache-control of theirs (its refusal of a persisted
 *   query says `private, no-cache, must-revalidate`), and Apollo's headers win.
 */
const listener: GraphQLRequestListener<object> = {
  async willSendResponse({ errors, response }) {
    if (!errors) return;
    response.http.headers.set('cache-control', 'no-store');
    let retryAfter = 0;
    for (const error of errors) {
      const original = unwrapResolverError(error);
      if (original instanceof RateLimitedError) retryAfter = Math.max(retryAfter, original.retryAfter);
    }
    if (retryAfter > 0) response.http.headers.set('retry-after', String(retryAfter));
  },
};

const ready = Promise.resolve(listener);

export const errorHeadersPlugin: ApolloServerPlugin = {
  requestDidStart: () => ready,
};
