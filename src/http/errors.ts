/**
 * HTTP-level refusals (oversized body, unsupported media type, unknown route, unreadable URL)
 * answer in the GraphQL error shape with a code from the registry, never with Fastify's internals.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { ErrorCode } from '../errors';

const refusal = (message: string, code: ErrorCode = ErrorCode.BAD_REQUEST) => ({ errors: [{ message, extensions: { code } }] });

const clientStatus = (error: FastifyError) =>
  error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : undefined;

export function registerHttpErrorHandlers(app: FastifyInstance) {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = clientStatus(error) ?? 500;
    if (status === 500) {
      request.log.error({ err: { type: error.name, code: error.code } }, 'unhandled http error');
      return reply.code(500).send(refusal('Internal server error.', ErrorCode.INTERNAL_SERVER_ERROR));
    }
    return reply.code(status).send(refusal(status === 413 ? 'Request body too large.' : 'Bad request.'));
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send(refusal('Not found.')));
}

/** Fastify's frameworkErrors: a request refused before routing (a URL it cannot read, a parameter too long). */
export function refuseFrameworkError(error: FastifyError, reply: FastifyReply) {
  return reply.code(clientStatus(error) ?? 400).send(refusal('Bad request.'));
}
