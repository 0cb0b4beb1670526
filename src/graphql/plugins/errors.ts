import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import type { GatewayContext } from '../context';
import { errorRequestIds } from '../format-error';

/**
 * What a request with errors needs besides their formatting (one without errors leaves here
 * untouched: the listener is one shared object, so it costs a request nothing to make):
 * - the request id of each error, noted for the lines the error formatter logs (`store
 *   unavailable`, `unexpected error`) to carry it: Apollo tells the listeners of the errors
 *   before it formats them;
 * and the headers of the answer:
 * - `Retry-After` with the largest `extensions.retryAfter` among the answer's errors
 *   (RATE_LIMITED, SERVICE_UNAVAILABLE), which keep the response at HTTP 200 (other fields
 *   still answer);
 * - `Cache-Control: no-store` again: the HTTP layer sets it on every answer (base-app.ts), but
 *   some of Apollo's own errors bring a cache-control of theirs (its refusal of a persisted
 *   query says `private, no-cache, must-revalidate`), and Apollo's headers win.
 */
const listener: GraphQLRequestListener<GatewayContext> = {
  async didEncounterErrors({ errors, contextValue }) {
    for (const error of errors) errorRequestIds.set(error, contextValue.requestId);
  },
  async willSendResponse({ errors, response }) {
    if (!errors) return;
    response.http.headers.set('cache-control', 'no-store');
    // As formatted for the client: a driver's error has become SERVICE_UNAVAILABLE by now.
    const formatted = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
    let retryAfter = 0;
    for (const error of formatted ?? []) {
      const seconds = error.extensions?.retryAfter;
      if (typeof seconds === 'number') retryAfter = Math.max(retryAfter, seconds);
    }
    if (retryAfter > 0) response.http.headers.set('retry-after', String(retryAfter));
  },
};

const ready = Promise.resolve(listener);

export const errorsPlugin: ApolloServerPlugin<GatewayContext> = {
  requestDidStart: () => ready,
};
