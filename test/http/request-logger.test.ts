// Rule: request.log is bound to the request id and redacts like every other logger, but is made
// only when something logs through it (Fastify asks for one on every request).
import { Writable } from 'node:stream';
import { expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config';
import { createHttpApp } from '../../src/http/base-app';
import { createLogger, LazyChildLogger } from '../../src/logger';

function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('info', destination), lines };
}

it('makes its pino child on first use only, once, with the bindings and the redaction', () => {
  const { logger, lines } = capturedLogger();
  const child = vi.spyOn(logger, 'child');
  const lazy = new LazyChildLogger(logger, { reqId: 'r-1' }, {});
  expect(child).not.toHaveBeenCalled();
  lazy.warn({ password: 'hunter2', attempt: 1 }, 'first');
  lazy.info('second');
  expect(child).toHaveBeenCalledTimes(1);
  expect(lines.map((l) => [l.reqId, l.msg])).toEqual([
    ['r-1', 'first'],
    ['r-1', 'second'],
  ]);
  expect(lines[0]!.password).toBe('[redacted]');
  expect(lazy.level).toBe('info');
});

it('is what request.log is in the app: a line logged by a handler carries the request id', async () => {
  const { logger, lines } = capturedLogger();
  const child = vi.spyOn(logger, 'child');
  const app = await createHttpApp(loadConfig({}), logger);
  app.get('/quiet', async () => 'ok');
  app.get('/noisy', async (request) => {
    request.log.warn({ refreshToken: 'secret-token' }, 'handler says');
    return 'ok';
  });
  const childrenBefore = child.mock.calls.length; // the app's own (access log)
  await app.inject({ url: '/quiet', headers: { 'x-request-id': 'quiet-1' } });
  expect(child.mock.calls.length).toBe(childrenBefore);
  await app.inject({ url: '/noisy', headers: { 'x-request-id': 'noisy-1' } });
  const said = lines.find((l) => l.msg === 'handler says');
  expect(said).toMatchObject({ reqId: 'noisy-1', refreshToken: '[redacted]' });
  await app.close();
});
