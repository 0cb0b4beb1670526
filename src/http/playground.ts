/**
 * The playground: a browser's GET /graphql gets GraphiQL, with every asset served by this
 * gateway (GraphiQL 4's UMD bundle and React 18's UMD builds straight from node_modules, plus
 * the page's own script and stylesheet) under a CSP that allows nothing from anywhere else.
 * Clients that do not ask for HTML (curl, GraphQL clients) still reach Apollo unchanged.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { projectRoot } from '../paths';
import { refusePlaygroundOff } from './errors';

/** The page may load scripts, styles, fonts and pictures only from the gateway (fonts and QR codes also as data: URLs). */
const PLAYGROUND_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self' data:; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The assets' routes. The page names them relatively, so a path prefix added by a proxy keeps working. */
const PLAYGROUND_ASSETS = '/playground/';

const require = createRequire(import.meta.url);
const inPackage = (name: string, file: string) => join(dirname(require.resolve(`${name}/package.json`)), file);
const own = (file: string) => join(projectRoot, 'src/http/playground', file);

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const TEXT = 'text/plain; charset=utf-8';

/**
 * The only files served: fixed names mapped to fixed paths, read once at start-up. No part of a
 * request ever becomes a path. (GraphiQL and React do not list their UMD files in `exports`, so
 * they are found beside each package's package.json.)
 */
const FILES: Record<string, { path: () => string; type: string }> = {
  'react.production.min.js': { path: () => inPackage('react', 'umd/react.production.min.js'), type: JS },
  'react-dom.production.min.js': { path: () => inPackage('react-dom', 'umd/react-dom.production.min.js'), type: JS },
  'graphiql.min.js': { path: () => inPackage('graphiql', 'graphiql.min.js'), type: JS },
  'graphiql.min.css': { path: () => inPackage('graphiql', 'graphiql.min.css'), type: CSS },
  'playground.js': { path: () => own('playground.js'), type: JS },
  'playground.css': { path: () => own('playground.css'), type: CSS },
  'examples.graphql': { path: () => own('examples.graphql'), type: TEXT },
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GraphQL auth gateway · playground</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="playground/graphiql.min.css">
<link rel="stylesheet" href="playground/playground.css">
<script defer src="playground/react.production.min.js"></script>
<script defer src="playground/react-dom.production.min.js"></script>
<script defer src="playground/graphiql.min.js"></script>
<script defer src="playground/playground.js"></script>
</head>
<body>
<header id="session-bar">
  <strong>GraphQL auth gateway</strong>
  <span id="session-status" role="status">Loading…</span>
  <button id="resume" type="button" hidden>Continue signed in</button>
  <button id="sign-out" type="button" hidden>Sign out</button>
</header>
<section id="qr-panel" hidden>
  <img id="qr-image" alt="QR code of the pending MFA secret">
  <p>Scan this with an authenticator app (or type the key <code id="qr-secret"></code> into it), then run <code>ConfirmMfa</code> with a code it shows.</p>
  <button id="qr-close" type="button">Close</button>
</section>
<main id="graphiql"></main>
</body>
</html>
`;

interface Served {
  body: Buffer;
  type: string;
  etag: string;
}

const served = (body: Buffer, type: string): Served => ({
  body,
  type,
  etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
});

function send(request: FastifyRequest, reply: FastifyReply, file: Served, cache: string) {
  reply
    .header('content-security-policy', PLAYGROUND_CSP)
    // frame-ancestors' older spelling, and no handle on this page for whoever opened it.
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', cache)
    .header('etag', file.etag);
  if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
  return reply.type(file.type).send(file.body);
}

/**
 * A browser navigating: `text/html` is named and weighs more than every JSON type the header
 * admits. A wildcard-only or missing Accept (curl, most clients) is not a browser asking for a page.
 */
function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  let html = 0;
  let json = 0;
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = Number(params.find((p) => p.startsWith('q='))?.slice(2) ?? 1);
    if (!(q >= 0 && q <= 1)) continue;
    if (range === 'text/html') html = Math.max(html, q);
    else if (['application/json', 'application/graphql-response+json', 'application/*', '*/*'].includes(range)) json = Math.max(json, q);
  }
  return html > json;
}

/**
 * While the playground is off, a browser navigating to /graphql is told so (400 BAD_REQUEST),
 * rather than handed Apollo's CSRF refusal, which reads as an attack to someone who only opened a
 * URL. Every other GET still reaches Apollo. Call before Apollo's route is registered.
 */
export function registerPlaygroundOffNotice(app: FastifyInstance) {
  app.addHook('onRequest', async (request, reply) => {
    if (isBrowserNavigation(request, reply)) return refusePlaygroundOff(reply);
  });
}

/**
 * Whether a request is a browser's GET /graphql asking for a page. Every GET /graphql is marked
 * as answered by its Accept header: the same URL answers a page (or the notice) or a GraphQL
 * result, added to what CORS put there (Origin).
 */
function isBrowserNavigation(request: FastifyRequest, reply: FastifyReply): boolean {
  if (request.method !== 'GET' || request.routeOptions.url !== '/graphql') return false;
  const vary = reply.getHeader('vary');
  reply.header('vary', vary ? `${String(vary)}, Accept` : 'Accept');
  return prefersHtml(request.headers.accept);
}

/**
 * Call before Apollo's route is registered. `schemaSdl` is the schema the gateway runs (the
 * committed schema.graphql): the page reads it instead of introspecting, which production refuses.
 */
export function registerPlaygroundRoutes(app: FastifyInstance, options: { schemaSdl: string }) {
  const page = served(Buffer.from(PAGE), 'text/html; charset=utf-8');
  // Opened by another site (a link, window.open; a reload of such a page too, in Chromium): the
  // page does not sign in with the cookie by itself, or any site could make the browser refresh
  // the session, keeping it alive unseen. It offers a button instead (it cannot be framed, so
  // nobody else can make the user click it).
  const pageOpenedCrossSite = served(Buffer.from(PAGE.replace('<body>', '<body data-opened-from="another-site">')), 'text/html; charset=utf-8');
  const files = new Map(Object.entries(FILES).map(([name, file]) => [name, served(readFileSync(file.path()), file.type)]));
  files.set('schema.graphql', served(Buffer.from(options.schemaSdl), TEXT));

  // A hook, not a route: Apollo owns GET /graphql, and only browsers asking for a page are taken from it.
  app.addHook('onRequest', async (request, reply) => {
    if (!isBrowserNavigation(request, reply)) return;
    reply.header('vary', `${String(reply.getHeader('vary'))}, Sec-Fetch-Site`);
    return send(request, reply, request.headers['sec-fetch-site'] === 'cross-site' ? pageOpenedCrossSite : page, 'no-store');
  });
  for (const [name, file] of files) {
    app.get(`${PLAYGROUND_ASSETS}${name}`, (request, reply) => send(request, reply, file, 'no-cache'));
  }
  // The server's root, where a browser pointed at the gateway lands: the playground.
  app.get('/', (_request, reply) => reply.redirect('/graphql'));
}
