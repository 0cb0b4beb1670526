import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { RateLimitedError } from '../../errors';

/**
 * RATE_LIMITED fields keep the response at HTTP 200 (other fields still answer); the response
 * carries `Retry-After` with the largest retryAfter among them.
 */
export const retryAfterPlugin: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async willSendResponse({ errors, response }) {
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
