// Rule: the playground is served only while PLAYGROUND is on (default: off in production), under a strict CSP, from a fixed allow-list of same-origin files; other clients' GET /graphql still reach Apollo, and production introspection stays off.
import { readFileSync } from 'node:fs';
import { buildSchema, parse, validate, type OperationDefinitionNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { SchemaRootDocument } from '../gql/graphql';
import { codeOf } from '../helpers/fixtures';
import { createTestDatabase, startGateway, type TestDatabase, type TestGateway } from '../helpers/gateway';

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self' data:; img-src 'self' data:; connect-src 'self'";
const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
const PRODUCTION = { NODE_ENV: 'production', JWT_ISSUER: 'https://auth.example.test', DATABASE_URL: 'postgres://unused@127.0.0.1/unused' };

let shared: TestDatabase;
let dev: TestGateway;
let prodOff: TestGateway;
let prodOn: TestGateway;
beforeAll(async () => {
  shared = await createTestDatabase();
  // One database, so one set of encryption keys for the signing keys stored in it.
  const common = { database: shared.database, encryptionKeys: generateEncryptionKeyEntry('test') };
  dev = await startGateway(common);
  prodOff = await startGateway({ ...common, env: PRODUCTION });
  prodOn = await startGateway({ ...common, env: { ...PRODUCTION, PLAYGROUND: 'on' } });
});
afterAll(async () => {
  for (const gw of [dev, prodOff, prodOn]) await gw?.close();
  await shared?.drop();
});

const page = (gw: TestGateway, path = '/graphql', accept = BROWSER) => fetch(`${gw.url}${path}`, { headers: { accept } });
const asset = (gw: TestGateway, name: string, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}/playground/${name}`, { headers });

/** A refusal in the gateway's error shape: the status and a registry code, no HTML. */
async function refused(response: Response, status: number) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toContain('application/json');
  const body = (await response.json()) as { errors: Array<{ extensions: { code: string } }> };
  expect(body.errors[0]!.extensions.code).toBe('BAD_REQUEST');
}

describe('the page', () => {
  it('opened by another site (Sec-Fetch-Site: cross-site) is told so, and only then; each version has its own ETag', async () => {
    const opened = (site?: string, etag?: string) =>
      fetch(`${dev.url}/graphql`, { headers: { accept: BROWSER, ...(site && { 'sec-fetch-site': site }), ...(etag && { 'if-none-match': etag }) } });
    const crossSite = await opened('cross-site');
    expect(await crossSite.text()).toContain('<body data-opened-from="another-site">');
    expect(crossSite.headers.get('vary')?.toLowerCase().split(/,\s*/)).toEqual(expect.arrayContaining(['accept', 'sec-fetch-site']));
    for (const site of [undefined, 'same-origin', 'same-site', 'none']) {
      const answer = await opened(site);
      const html = await answer.text();
      expect(html, site).toContain('<body>');
      expect(html, site).not.toContain('data-opened-from');
      expect(answer.headers.get('etag'), site).not.toBe(crossSite.headers.get('etag'));
    }
    // One version's ETag gets the other version whole, never a 304.
    const plainTag = (await opened('same-origin')).headers.get('etag')!;
    expect((await opened('cross-site', plainTag)).status).toBe(200);
    expect((await opened('same-origin', crossSite.headers.get('etag')!)).status).toBe(200);
    expect((await opened('same-origin', plainTag)).status).toBe(304);
  });

  it('answers a browser under the CSP, loading only same-origin files and no inline code', async () => {
    const response = await page(dev);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toContain(CSP);
    expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    // Not framed by browsers that predate frame-ancestors either; whoever opened it keeps no handle on it.
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    // The page is an answer like any other (no-store); its files are kept but revalidated.
    expect(response.headers.get('cache-control')).toBe('no-store');
    const html = await response.text();
    const urls = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    expect(urls.length).toBeGreaterThanOrEqual(6);
    for (const url of urls) expect(url === 'data:,' || url!.startsWith('playground/'), url).toBe(true);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  });

  it('is where the root redirects (302), with the playground on only', async () => {
    const root = await fetch(`${dev.url}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/graphql');
    await refused(await fetch(`${prodOff.url}/`, { redirect: 'manual' }), 404);
  });

  it('is only for browsers: other GETs reach Apollo as before, a query param included', async () => {
    const viaGet = await fetch(`${dev.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: 'application/json', 'apollo-require-preflight': 'true' },
    });
    expect(await viaGet.json()).toEqual({ data: { __typename: 'Query' } });
    for (const accept of ['*/*', 'application/json, text/html', 'text/html;q=0.5, application/json']) {
      const response = await page(dev, '/graphql', accept);
      expect(response.headers.get('content-type'), accept).not.toContain('text/html');
    }
    // A browser navigating to a GET operation gets the page (as Apollo's landing page did).
    expect((await page(dev, `/graphql?query=${encodeURIComponent('{ __typename }')}`)).headers.get('content-type')).toContain('text/html');
  });
});

describe('the assets', () => {
  it('serves every file the page names, JavaScript and CSS with charset=utf-8, with an ETag', async () => {
    const html = await (await page(dev)).text();
    const names = [...html.matchAll(/"playground\/([^"]+)"/g)].map((m) => m[1]!);
    expect(names).toEqual(expect.arrayContaining(['graphiql.min.js', 'graphiql.min.css', 'react.production.min.js', 'react-dom.production.min.js', 'playground.js', 'playground.css']));
    for (const name of names) {
      const response = await asset(dev, name);
      expect(response.status, name).toBe(200);
      const type = name.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8';
      expect(response.headers.get('content-type'), name).toBe(type);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('cache-control'), name).toBe('no-cache');
      expect((await response.arrayBuffer()).byteLength, name).toBeGreaterThan(100);
      const etag = response.headers.get('etag')!;
      expect((await asset(dev, name, { 'if-none-match': etag })).status, name).toBe(304);
    }
  });

  it('serves nothing outside the allow-list: no path in a request picks a file', async () => {
    for (const path of [
      '/playground/package.json',
      '/playground/..%2Fpackage.json',
      '/playground/%2e%2e/%2e%2e/package.json',
      '/playground/graphiql.min.js.map',
      '/playground/playground.ts',
      '/playground/',
      '/playground/GRAPHIQL.MIN.JS',
    ]) {
      const response = await fetch(`${dev.url}${path}`);
      await refused(response, 404);
    }
  });
});

describe('production', () => {
  it('serves no page, asset or schema unless PLAYGROUND=on', async () => {
    const response = await page(prodOff);
    expect(response.headers.get('content-type')).not.toContain('text/html');
    expect(response.headers.get('vary')?.toLowerCase().split(/,\s*/)).toContain('accept');
    // Told that the playground is off and how to send operations, not Apollo's CSRF refusal.
    const told = (await response.clone().json()) as { errors: Array<{ message: string }> };
    expect(told.errors[0]!.message).toBe(
      'Bad request: the playground is off on this server (PLAYGROUND=off). Send GraphQL operations as a POST with content-type: application/json.',
    );
    await refused(response, 400);
    // With a query too: a browser's navigation never runs an operation.
    const navigated = await page(prodOff, '/graphql?query=%7B__typename%7D');
    expect(((await navigated.clone().json()) as { errors: Array<{ message: string }> }).errors[0]!.message).toContain('the playground is off');
    await refused(navigated, 400);
    // Any other client's GET still reaches Apollo (its CSRF prevention answers one without a preflight header).
    const curl = await fetch(`${prodOff.url}/graphql?query=%7B__typename%7D`, { headers: { accept: 'application/json' } });
    expect(((await curl.clone().json()) as { errors: Array<{ message: string }> }).errors[0]!.message).toContain('Cross-Site Request Forgery');
    await refused(curl, 400);
    for (const name of ['graphiql.min.js', 'playground.js', 'schema.graphql', 'examples.graphql']) {
      await refused(await asset(prodOff, name), 404);
    }
  });

  it('with PLAYGROUND=on serves the page and the committed schema.graphql, while introspection stays off', async () => {
    expect((await page(prodOn)).headers.get('content-security-policy')).toContain(CSP);
    const schema = await asset(prodOn, 'schema.graphql');
    expect(schema.status).toBe(200);
    expect(schema.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(schema.headers.get('cache-control')).toBe('no-cache');
    expect(await schema.text()).toBe(readFileSync('schema.graphql', 'utf8'));
    const introspection = await prodOn.gql(SchemaRootDocument);
    expect(codeOf(introspection)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(introspection.data ?? null).toBeNull();
  });

  it('preloads example operations that the schema and the request limits accept', async () => {
    const examples = await (await asset(prodOn, 'examples.graphql')).text();
    const document = parse(examples);
    const names = document.definitions.map((d) => (d as OperationDefinitionNode).name?.value);
    expect(names).toEqual(['Register', 'Login', 'VerifyMfa', 'Me', 'Refresh', 'Sessions', 'EnrollMfa', 'ConfirmMfa', 'Logout']);
    expect(validate(buildSchema(readFileSync('schema.graphql', 'utf8')), document)).toEqual([]);
    // GraphiQL sends the whole document with the chosen operationName.
    const me = await prodOn.post({ query: examples, operationName: 'Me' });
    expect(codeOf((await me.json()) as never)).toBe('UNAUTHENTICATED');
  });
});
