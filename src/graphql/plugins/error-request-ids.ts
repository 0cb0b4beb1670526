import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import type { GatewayContext } from '../context';
import { errorRequestIds } from '../format-error';

/**
 * Notes the request id of every error a request meets, for the lines the error formatter logs
 * (`store unavailable`, `unexpected error`) to carry it. Apollo tells the listeners of the errors
 * before it formats them; a request without errors costs nothing here (one shared listener).
 */
const listener: GraphQLRequestListener<GatewayContext> = {
  async didEncounterErrors({ errors, contextValue }) {
    for (const error of errors) errorRequestIds.set(error, contextValue.requestId);
  },
};

const ready = Promise.resolve(listener);

export const errorRequestIdsPlugin: ApolloServerPlugin<GatewayContext> = {
  requestDidStart: () => ready,
};
