import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { RateLimitedError } from '../../errors';

/**
 * `Retry-After` on a GraphQL answer with RATE_LIMITED fields (they keep the response at HTTP
 * 200, since other fields still answer): the largest retryAfter among them. Apollo calls
 * didEncounterErrors only for answers with errors, and the listener is one shared object, so
 * an answer without errors costs this plugin nothing. (`Cache-Control: no-store` is set on every
 * answer by the HTTP layer: base-app.ts.)
 */
const listener: GraphQLRequestListener<object> = {
  async didEncounterErrors({ errors, response }) {
    let retryAfter = 0;
    for (const error of errors) {
      const original = unwrapResolverError(error);
      if (original instanceof RateLimitedError) retryAfter = Math.max(retryAfter, original.retryAfter);
    }
    if (retryAfter > 0) response.http.headers.set('retry-after', String(retryAfter));
  },
};

const ready = Promise.resolve(listener);

export const retryAfterPlugin: ApolloServerPlugin = {
  requestDidStart: () => ready,
};
