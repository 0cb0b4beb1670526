/**
 * HTTP-level refusals (oversized body, unsupported media type, unknown route, unreadable URL, a
 * request Node's parser cannot read) answer in the GraphQL error shape with a code from the
 * registry, never with Fastify's internals.
 */
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { describeError } from '../describe-error';
import { ErrorCode, ServiceUnavailableError, toWire } from '../errors';

const refusal = (message: string, code: ErrorCode = ErrorCode.BAD_REQUEST, extensions?: Record<string, unknown>) => ({
  errors: [toWire({ message, code, extensions })],
});

const clientStatus = (error: FastifyError) =>
  error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : undefined;

/** Fixed messages for the refusals that say what to change. */
const CLIENT_REFUSALS: Record<number, string> = {
  413: 'Request body too large.',
  415: 'Unsupported content type: send content-type: application/json.',
};

/** A JSON body the gateway's parser refuses (base-app.ts), by the code it refuses it with. */
const BODY_REFUSALS: Record<string, string> = {
  FST_GATEWAY_NOT_UTF8: 'Bad request: the body is not valid UTF-8.',
  FST_GATEWAY_CHARSET: 'Unsupported content type: JSON is UTF-8; send content-type: application/json.',
};

/**
 * The GraphQL integration reads the request's URL from its Host header (or, behind a trusted
 * proxy, X-Forwarded-Host): one that is no host (`[`, `a b`, none at all over HTTP/1.0) is the
 * client's fault, not ours. Only then: any other invalid URL is a server error.
 */
const isUnreadableHost = (error: FastifyError, request: FastifyRequest) =>
  error.code === 'ERR_INVALID_URL' && !URL.canParse(`${request.protocol}://${request.hostname}/`);

export function registerHttpErrorHandlers(app: FastifyInstance) {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isUnreadableHost(error, request)) return reply.code(400).send(refusal('Bad request: unreadable Host header.'));
    const status = clientStatus(error) ?? 500;
    if (status === 500) {
      request.log.error({ err: describeError(error) }, 'unhandled http error');
      return reply.code(500).send(refusal('Internal server error.', ErrorCode.INTERNAL_SERVER_ERROR));
    }
    return reply.code(status).send(refusal(BODY_REFUSALS[error.code] ?? CLIENT_REFUSALS[status] ?? 'Bad request.'));
  });
  // A path that is there but does not take the method (TRACE, PROPFIND, …: any not routed) is
  // 405 with the methods it takes, as PUT, DELETE and PATCH are below; any other path 404.
  const taking = new Map<string, string>();
  pathsTakingMethods.set(app, taking);
  app.setNotFoundHandler((request, reply) => {
    const query = request.url.indexOf('?');
    const allow = taking.get(query === -1 ? request.url : request.url.slice(0, query));
    if (allow !== undefined) return refuseMethod(reply, allow);
    return reply.code(404).send(refusal('Not found.'));
  });
}

/** Per app: the paths refuseOtherMethods guards, and the methods each takes (its Allow). */
const pathsTakingMethods = new WeakMap<FastifyInstance, Map<string, string>>();

const refuseMethod = (reply: FastifyReply, allow: string) =>
  reply.code(405).header('allow', allow).send(refusal('Method not allowed: send a POST (or a GET for a query).'));

/**
 * A method a GraphQL path does not take is answered 405 with the methods it does take (`allow`),
 * not 404: the path is there. PUT, DELETE and PATCH, which carry bodies, as the request arrives,
 * before its body is read: whatever the body, the method is what is wrong. Any other method
 * Fastify does not route (TRACE, PROPFIND, …) reaches the not-found handler, which answers the
 * same for this path. `app` must have had registerHttpErrorHandlers.
 */
export function refuseOtherMethods(app: FastifyInstance, url: string, allow: string) {
  const taking = pathsTakingMethods.get(app);
  if (!taking) throw new Error('refuseOtherMethods needs registerHttpErrorHandlers on the same app first');
  taking.set(url, allow);
  const refuse = (reply: FastifyReply) => refuseMethod(reply, allow);
  app.route({
    method: ['PUT', 'DELETE', 'PATCH'],
    url,
    // Answered here, the request goes no further (done is not called): its body is never read.
    onRequest: (_request, reply, _done) => void refuse(reply),
    handler: (_request, reply) => refuse(reply),
  });
}

/** A browser's GET /graphql while PLAYGROUND is off (playground.ts). */
export function refusePlaygroundOff(reply: FastifyReply) {
  return reply
    .code(400)
    .send(refusal('Bad request: the playground is off on this server (PLAYGROUND=off). Send GraphQL operations as a POST with content-type: application/json.'));
}

/**
 * A request that arrives while the server is closing (on a connection kept alive, or pipelined
 * behind one in flight) is not run: 503 SERVICE_UNAVAILABLE in the GraphQL shape, and the
 * connection closes, so the client retries on another instance (after `retryAfter`, as for
 * every SERVICE_UNAVAILABLE).
 */
export function refuseWhileClosing(reply: FastifyReply) {
  const { retryAfter } = new ServiceUnavailableError();
  return reply
    .code(503)
    .header('connection', 'close')
    .header('retry-after', String(retryAfter))
    .send(refusal('Service unavailable: this instance is shutting down.', ErrorCode.SERVICE_UNAVAILABLE, { retryAfter }));
}

/** An HTTP/1.1 request without a Host header (Node would answer an empty 400 of its own). */
export function refuseMissingHost(reply: FastifyReply) {
  return reply.code(400).send(refusal('Bad request: missing Host header.'));
}

/** Fastify's frameworkErrors: a request refused before routing (a URL it cannot read, a parameter too long). */
export function refuseFrameworkError(error: FastifyError, reply: FastifyReply) {
  return reply.code(clientStatus(error) ?? 400).send(refusal('Bad request.'));
}

/**
 * Node's answer to an `Expect` it cannot meet (anything but 100-continue): 417 in the GraphQL
 * shape, no-store, instead of Node's own empty one; the request is not run.
 */
export function refuseExpectation(response: ServerResponse) {
  const body = JSON.stringify(refusal('Expectation failed: the only Expect this server meets is 100-continue.'));
  response.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', connection: 'close' });
  response.end(body);
}

const PARSER_REFUSALS: Record<string, [status: number, reason: string, message: string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'Request headers too large.'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'Request timeout.'],
};

/**
 * Fastify's clientErrorHandler: a request Node's HTTP parser refuses (a malformed header, a bad
 * chunked body, headers over the limit, too slow) gets the same shape, and the socket is closed.
 * Returns the status it answered, if it could answer.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): number | undefined {
  // Gone (reset, or ended before its request was whole): nobody to answer.
  if (error.code === 'ECONNRESET' || error.code === 'HPE_INVALID_EOF_STATE' || socket.destroyed) {
    socket.destroy();
    return undefined;
  }
  const [status, reason, message] = PARSER_REFUSALS[error.code ?? ''] ?? [400, 'Bad Request', 'Bad request.'];
  const body = JSON.stringify(refusal(message));
  const answered = socket.writable;
  if (answered) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `cache-control: no-store\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
  return answered ? status : undefined;
}
