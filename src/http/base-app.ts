/**
 * The Fastify instance every listener starts from: request ids, one log line per request, the
 * client address rules of TRUST_PROXY, GraphQL-shaped HTTP errors and cookies.
 */
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import fastifyCookie from '@fastify/cookie';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Config, TrustProxy } from '../config';
import { isInternalAddress } from '../domain/throttle';
import { LazyChildLogger } from '../logger';
import {
  answerClientError,
  refuseExpectation,
  refuseFrameworkError,
  refuseMissingHost,
  refuseWhileClosing,
  registerHttpErrorHandlers,
} from './errors';

const BODY_LIMIT_BYTES = 100 * 1024;
/**
 * How long a client has to send a whole request, headers and body (Node's own default is 300 s,
 * which Fastify turns off). Node looks every CONNECTIONS_CHECK_MS, so a request that trickles in
 * is cut off (408) within 30–35 s. A connection held open by a body sent a byte at a time would
 * otherwise hold a socket and memory for as long as its client likes. Both are given to Node
 * when the server is made: set on the server afterwards (as Fastify's own option is), the
 * timeout reaches only the headers, and a body was cut only by the 60 s headers timeout.
 */
const REQUEST_TIMEOUT_MS = 30_000;
const CONNECTIONS_CHECK_MS = 5_000;
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
/** The scheme and authority of a request target in absolute form (RFC 9112, 3.2.2). */
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i;
/**
 * The user information of a path written as a URL without its scheme (`//user:password@host/…`),
 * in every form a browser reads so: any run of two or more slashes and backslashes before it.
 */
const SCHEMELESS_USERINFO = /^[/\\]{2,}[^/\\]*@/;

/**
 * request.ip: the socket's address unless TRUST_PROXY names the proxies to believe. A hop count
 * trusts that many nearest hops, provided the connection itself comes from a loopback or
 * private address: a client that reaches the port directly from outside cannot choose its
 * address by sending X-Forwarded-For. (Fastify refuses bare hop counts for that reason.)
 */
function trustProxyOption(setting: TrustProxy) {
  if (typeof setting !== 'number') return setting;
  return (address: string, hop: number) => hop < setting && (hop > 0 || isInternalAddress(address));
}

/**
 * Every answer: its request id, no-store (answers carry tokens and account details; the few
 * that may be cached, the JWKS and the playground's files, say so themselves), and nosniff (a
 * JSON answer is never taken for a script or a page).
 */
function replyHeaders(request: FastifyRequest, reply: FastifyReply) {
  reply.header('x-request-id', request.id).header('cache-control', 'no-store').header('x-content-type-options', 'nosniff');
}

/** HTTP/1.1 requires a Host header (RFC 9112, 3.2); HTTP/1.0 did not. */
const lacksRequiredHost = (request: FastifyRequest) => request.raw.headers.host === undefined && request.raw.httpVersion !== '1.0';

/** A `charset` parameter of a content type, quoted or not. */
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i;

/**
 * JSON bodies as RFC 8259 has them: UTF-8. Fastify's own parser decodes whatever bytes come, a
 * sequence that is no UTF-8 (a Latin-1 `ä`, a stray byte) turning into U+FFFD, so that different
 * passwords would arrive as one; and it reads a body declared in another charset as UTF-8 too.
 * Such bodies are refused before anything runs: 400 for bytes that are no UTF-8, 415 for another
 * charset. The rest is Fastify's parser (with its refusal of `__proto__` and `constructor` keys).
 */
function takeUtf8JsonOnly(app: FastifyInstance) {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    const charset = CHARSET.exec(request.headers['content-type'] ?? '')?.[1];
    if (charset !== undefined && !/^utf-?8$/i.test(charset)) return done(bodyRefusal(415, 'FST_GATEWAY_CHARSET'), undefined);
    if (!isUtf8(body)) return done(bodyRefusal(400, 'FST_GATEWAY_NOT_UTF8'), undefined);
    parseJson(request, body.toString('utf8'), done);
  });
}

const bodyRefusal = (statusCode: number, code: string) => Object.assign(new Error(code), { statusCode, code });

export interface HttpAppOptions {
  /** The listener's own rule (the subgraph listener sits behind the router, not the load balancer). */
  trustProxy?: TrustProxy | undefined;
  /**
   * Told the status of every answer, the HTTP parser's refusals included, and how long a routed
   * request took, from its headers read to its answer sent (metrics).
   */
  answered?: ((status: number, elapsedMs?: number) => void) | undefined;
}

export async function createHttpApp(config: Config, logger: Logger, options: HttpAppOptions = {}): Promise<FastifyInstance> {
  const { trustProxy = config.trustProxy, answered } = options;
  const app = Fastify({
    loggerInstance: logger,
    // Fastify's two lines per request are replaced by the one below.
    logController: new LogController({ disableRequestLogging: true }),
    // request.log: bound to the request id, made only if something logs through it.
    childLoggerFactory: (parent, bindings, options) => new LazyChildLogger(parent as Logger, bindings, options) as unknown as Logger,
    bodyLimit: BODY_LIMIT_BYTES,
    requestTimeout: REQUEST_TIMEOUT_MS,
    // Node answers an HTTP/1.1 request without a Host header with an empty 400 of its own;
    // the onRequest hook below answers it in the GraphQL shape instead.
    http: { requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: CONNECTIONS_CHECK_MS, requireHostHeader: false },
    trustProxy: trustProxyOption(trustProxy),
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
    },
    // A URL Fastify cannot route (bad escapes, a parameter too long) is answered before any hook.
    frameworkErrors: (error, request, reply) => {
      replyHeaders(request, reply);
      refuseFrameworkError(error, reply);
      // Answered outside the routes' hooks: no onResponse counts it.
      answered?.(reply.statusCode);
    },
    // And one Node's HTTP parser cannot read at all (no request exists yet, so no request id).
    clientErrorHandler: (error, socket) => {
      const status = answerClientError(error, socket);
      if (status !== undefined) answered?.(status);
    },
    // Fastify's own answer while closing is not in the GraphQL shape: refuseWhileClosing is.
    return503OnClosing: false,
  }) as unknown as FastifyInstance;
  // JSON is the only body taken. A text/plain one (which a cross-site form or fetch may send
  // without a preflight) is refused as a form is, 415 naming the type to send, before Apollo:
  // with Fastify's parser it would reach Apollo, whose CSRF prevention refuses it only while no
  // preflight-forcing header comes with it, and then answers a body it cannot read.
  app.removeContentTypeParser('text/plain');
  takeUtf8JsonOnly(app);
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });

  // One line per request; never the query string (a GET operation carries its variables there).
  // Its fields are fixed and hold no secret, so it skips the redaction every other line goes
  // through. Callback hooks: an async one costs each request a promise.
  const accessLog = logger.child({}, { redact: [] });
  app.addHook('onRequest', (request, reply, done) => {
    replyHeaders(request, reply);
    if (closing) return void refuseWhileClosing(reply);
    if (lacksRequiredHost(request)) return void refuseMissingHost(reply);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const query = request.url.indexOf('?');
    let path = query === -1 ? request.url : request.url.slice(0, query);
    // A request line in absolute form (`POST http://user:password@host/graphql`, as sent to a
    // proxy) is served by its path: only that is logged, not the credentials before it.
    if (path[0] !== '/') path = path.replace(ABSOLUTE_FORM, '') || '/';
    // Nor those of a path that starts as a URL without its scheme (up to the last `@` before its
    // first `/` or `\`, as a password may hold one): it is logged from the host on.
    if (path[1] === '/' || path[1] === '\\') path = path.replace(SCHEMELESS_USERINFO, '//');
    const elapsedMs = reply.elapsedTime;
    accessLog.info({ reqId: request.id, method: request.method, path, status: reply.statusCode, ms: Math.round(elapsedMs) }, 'request');
    answered?.(reply.statusCode, elapsedMs);
    // While draining: a kept-alive connection whose request was in flight when the close began
    // is idle once answered, and Node closes idle connections only as the close begins, so it
    // would hold the drain open until its 10 s. It goes as soon as it is idle instead.
    if (closing) setImmediate(closeIdleConnections);
    done();
  });
  const closeIdleConnections = () => app.server.closeIdleConnections();

  registerHttpErrorHandlers(app);
  // Node knows a peer's address only while its socket is open, unless asked before: asked as the
  // connection opens, it stays known, and a client that hangs up right after sending is still
  // counted by the limits and named in the audit lines by it (request.ip, read when needed).
  app.server.on('connection', (socket: Socket) => void socket.remoteAddress);
  app.server.on('checkExpectation', (_request, response) => {
    refuseExpectation(response);
    answered?.(417);
  });
  // Parsed when a refresh or logout reads the cookie, not on every request.
  await app.register(fastifyCookie, { hook: false });
  return app;
}
