import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { RateLimitedError } from '../../errors';

/**
 * The headers of every GraphQL answer, in one hook per request:
 * - `Cache-Control: no-store`: answers carry tokens and account details, and no cache may keep
 *   them (Apollo's cache-control plugin, which would say the same, is off: it wraps every field
 *   resolver to collect hints this gateway never gives);
 * - `Retry-After` with the largest retryAfter among RATE_LIMITED fields, which keep the response
 *   at HTTP 200 (other fields still answer).
 */
export const responseHeadersPlugin: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async willSendResponse({ errors, response }) {
        response.http.headers.set('cache-control', 'no-store');
        let retryAfter = 0;
        for (const error of errors ?? []) {
          const original = unwrapResolverError(error);
          if (original instanceof RateLimitedError) retryAfter = Math.max(retryAfter, original.retryAfter);
        }
        if (retryAfter > 0) response.http.headers.set('retry-after', String(retryAfter));
      },
    };
  },
};
