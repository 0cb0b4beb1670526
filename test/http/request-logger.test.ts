// Rule: request.log is bound to the request id and redacts like every other logger, but is made
// only when something logs through it (Fastify asks for one on every request); every secret a
// caller might log is censored; what libraries print to the console becomes log lines.
import { Writable } from 'node:stream';
import { expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config';
import { createHttpApp } from '../../src/http/base-app';
import { createLogger, LazyChildLogger, routeConsoleToLog } from '../../src/logger';

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

it('is a whole pino logger to whoever holds it: its level can be changed and it makes children', () => {
  const { logger, lines } = capturedLogger();
  const lazy = new LazyChildLogger(logger, { reqId: 'r-2' }, {});
  lazy.child({ plugin: 'p' }).info({ accessToken: 'secret-token' }, 'from a child');
  lazy.level = 'warn';
  lazy.info('dropped at warn');
  lazy.warn('kept at warn');
  expect(lazy.level).toBe('warn');
  expect(logger.level).toBe('info');
  expect(lines.map((l) => [l.reqId, l.plugin, l.msg])).toEqual([
    ['r-2', 'p', 'from a child'],
    ['r-2', undefined, 'kept at warn'],
  ]);
  expect(lines[0]!.accessToken).toBe('[redacted]');
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

it('censors every secret a caller might log in an object, at the top or one level down', () => {
  const { logger, lines } = capturedLogger();
  const secret = 'S3cret-value-42';
  const logged: Array<[string, Record<string, unknown>]> = [
    ...['password', 'newPassword', 'currentPassword', 'refreshToken', 'accessToken', 'mfaToken', 'variables'].flatMap(
      (name): Array<[string, Record<string, unknown>]> => [
        [name, { [name]: secret }],
        [`input.${name}`, { input: { [name]: secret } }],
      ],
    ),
    ['req.headers.authorization', { req: { headers: { authorization: `Bearer ${secret}` } } }],
    ['req.headers.cookie', { req: { headers: { cookie: `__Host-refresh=${secret}` } } }],
    ['headers.authorization', { headers: { authorization: `Bearer ${secret}` } }],
    ['headers.cookie', { headers: { cookie: `__Host-refresh=${secret}` } }],
  ];
  for (const [path, fields] of logged) logger.info(fields, path);
  expect(lines.map((line) => line.msg)).toEqual(logged.map(([path]) => path));
  for (const line of lines) {
    expect(JSON.stringify(line), String(line.msg)).not.toContain(secret);
    expect(JSON.stringify(line), String(line.msg)).toContain('[redacted]');
  }
});

it("routes a library's console.warn and console.error into the log, at their levels, marked as the library's", () => {
  const { logger, lines } = capturedLogger();
  const { warn, error } = console;
  try {
    routeConsoleToLog(logger);
    console.warn('retrying in %d ms', 50);
    console.error('gave up: %s', 'timeout');
  } finally {
    Object.assign(console, { warn, error });
  }
  expect(lines.map(({ level, source, msg }) => ({ level, source, msg }))).toEqual([
    { level: 40, source: 'library', msg: 'retrying in 50 ms' },
    { level: 50, source: 'library', msg: 'gave up: timeout' },
  ]);
});
