// Rule: a route of the HTTP layer that throws (JWKS, readiness, playground) answers 500
// INTERNAL_SERVER_ERROR in the GraphQL error shape with a fixed message, and logs one error line
// naming the error's kind, never its message.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { createHttpApp } from '../../src/http/base-app';
import { createLogger } from '../../src/logger';

const lines: Array<Record<string, unknown>> = [];
const destination = new Writable({
  write(chunk, _encoding, done) {
    for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});
let app: Awaited<ReturnType<typeof createHttpApp>>;
let url: string;
beforeAll(async () => {
  app = await createHttpApp(loadConfig({}), createLogger('info', destination));
  app.get('/throws', async () => {
    throw new TypeError('Secret-Detail: connection to db.internal:5432 as admin');
  });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(() => app?.close());

it('answers a route that throws 500 INTERNAL_SERVER_ERROR, with nothing of the error in the answer or the log', async () => {
  const response = await fetch(`${url}/throws`, { headers: { 'x-request-id': 'throws-1' } });
  expect(response.status).toBe(500);
  expect(response.headers.get('cache-control')).toBe('no-store');
  const body = await response.text();
  expect(JSON.parse(body)).toEqual({ errors: [{ message: 'Internal server error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
  const errors = lines.filter((line) => line.level === 50);
  expect(errors).toEqual([expect.objectContaining({ msg: 'unhandled http error', reqId: 'throws-1', err: { type: 'TypeError' } })]);
  expect(JSON.stringify(lines)).not.toContain('Secret-Detail');
});
