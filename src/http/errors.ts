import type { FastifyError, FastifyInstance } from 'fastify';
import { ErrorCode } from '../errors';

/**
 * HTTP-level refusals (oversized body, unsupported media type, unknown route) answer in the
 * GraphQL error shape with a code from the registry, never with Fastify's internals.
 */
export function registerHttpErrorHandlers(app: FastifyInstance) {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: { type: error.name, code: error.code } }, 'unhandled http error');
    const message =
      status === 413 ? 'Request body too large.' : status === 500 ? 'Internal server error.' : 'Bad request.';
    const code = status === 500 ? ErrorCode.INTERNAL_SERVER_ERROR : ErrorCode.BAD_REQUEST;
    return reply.code(status).send({ errors: [{ message, extensions: { code } }] });
  });
  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).send({ errors: [{ message: 'Not found.', extensions: { code: ErrorCode.BAD_REQUEST } }] }),
  );
}
