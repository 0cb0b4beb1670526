// Rule: a store's failure is logged by name and driver code (ECONNREFUSED, 55000, 42P01…) along
// its cause chain, in every mode, and never with drizzle's "Failed query … params" message, the
// SQL or a parameter (emails, password hashes, token hashes); clients still see only
// SERVICE_UNAVAILABLE or INTERNAL_SERVER_ERROR.
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startKeyReloader } from '../../src/compose';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { hashOpaqueToken } from '../../src/domain/tokens';
import { createLogger } from '../../src/logger';
import type { Database } from '../../src/storage/postgres';
import { LoginDocument, RefreshDocument, RegisterDocument } from '../gql/graphql';
import { PASSWORD, signUp, uniqueEmail } from '../helpers/fixtures';
import { createTestDatabase, startGateway, type GqlResult, type TestGateway } from '../helpers/gateway';
import { childEnv, createNamedDatabase, freePort, runTsx, spawnTsx, tempDir, type NamedDatabase } from '../helpers/processes';

const KEYS = generateEncryptionKeyEntry('k1');
const MODES = ['development', 'production'] as const;
const JWT_ISSUER = 'https://auth.example.test';

interface Described {
  type: string;
  code?: string;
  cause?: Described;
  stack?: string;
}

const codesOf = (err: Described | undefined): string[] => (err ? [...(err.code ? [err.code] : []), ...codesOf(err.cause)] : []);

const linesOf = (logs: string[], msg: string) =>
  logs.map((l) => JSON.parse(l) as { msg: string; err?: Described; path?: unknown; reqId?: string }).filter((l) => l.msg === msg);

/** Nothing of the queries: drizzle's message, SQL, or any value a query carried. */
function expectNoQueryIn(logged: string, values: string[]) {
  expect(logged).not.toMatch(/Failed query|params|select |insert |update |\$argon2/i);
  for (const value of values) expect(logged).not.toContain(value);
}

function expectFixedAnswer(result: GqlResult<unknown>, code: 'SERVICE_UNAVAILABLE' | 'INTERNAL_SERVER_ERROR') {
  expect(result.status).toBe(200);
  const [error] = result.errors!;
  expect(error!.message).toBe(code === 'SERVICE_UNAVAILABLE' ? 'Service temporarily unavailable.' : 'Internal server error.');
  // Worth retrying soon, and said so; an unexpected error is not.
  expect(error!.extensions).toEqual(code === 'SERVICE_UNAVAILABLE' ? { code, retryAfter: 1 } : { code });
  expect(result.headers.get('retry-after')).toBe(code === 'SERVICE_UNAVAILABLE' ? '1' : null);
}

describe('an unexpected database error (a table gone)', () => {
  let database: Database;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    ({ database, drop } = await createTestDatabase());
  });
  afterAll(() => drop?.());

  it.each(MODES)('is logged in %s as DrizzleQueryError caused by 42P01, without the query or its parameters', async (NODE_ENV) => {
    const gw = await startGateway({
      database,
      encryptionKeys: KEYS,
      env: { NODE_ENV, JWT_ISSUER, DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://unused@127.0.0.1/unused' },
    });
    const user = await signUp(gw);
    await database.db.execute(sql`ALTER TABLE sessions RENAME TO sessions_gone`);
    try {
      const from = gw.logs.length;
      const headers = { 'x-request-id': `unexpected-${NODE_ENV}` };
      expectFixedAnswer(await gw.gql(LoginDocument, { email: user.email, password: PASSWORD }, { headers }), 'INTERNAL_SERVER_ERROR');
      const logs = gw.logs.slice(from);
      const [line] = linesOf(logs, 'unexpected error');
      expect(line!.err).toMatchObject({ type: 'DrizzleQueryError', cause: { code: '42P01' } });
      // Which field failed, for the operator to find it, and which request: its access line's id.
      expect(line).toMatchObject({ path: ['login'], reqId: headers['x-request-id'] });
      expect(linesOf(logs, 'request')).toEqual([expect.objectContaining({ reqId: headers['x-request-id'] })]);
      // Development keeps the stack frames, which point at our code; never the message line.
      if (NODE_ENV === 'development') expect(line!.err!.stack).toMatch(/^\s+at .*src\/storage\/postgres\/session-store\.ts/m);
      else expect(line!.err).not.toHaveProperty('stack');
      expectNoQueryIn(logs.join(''), [user.email, user.user.id, 'sessions']);
    } finally {
      await database.db.execute(sql`ALTER TABLE sessions_gone RENAME TO sessions`);
      await gw.close();
    }
  });
});

describe.skipIf(!process.env.DATABASE_URL)('PostgreSQL down', () => {
  let named: NamedDatabase;
  beforeAll(async () => {
    named = await createNamedDatabase({ migrated: true });
  });
  afterAll(() => named?.drop());

  const takeDown = async () => {
    await named.admin(`ALTER DATABASE "${named.name}" ALLOW_CONNECTIONS false`);
    await named.admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${named.name}' AND pid <> pg_backend_pid()`);
  };
  const restore = () => named.admin(`ALTER DATABASE "${named.name}" ALLOW_CONNECTIONS true`);

  it.each(MODES)('is logged in %s with the driver code for register, login, refresh and the key reload', async (NODE_ENV) => {
    // A pool of its own: each gateway meets the outage with connections that never saw one.
    const database = await named.open();
    const gw: TestGateway = await startGateway({ database, encryptionKeys: KEYS, env: { NODE_ENV, JWT_ISSUER, DATABASE_URL: process.env.DATABASE_URL! } });
    const reloads: string[] = [];
    const reloadLogger = createLogger('info', new Writable({ write: (chunk, _e, done) => done(void reloads.push(String(chunk))) }));
    try {
      const user = await signUp(gw);
      const newcomer = uniqueEmail('newcomer');
      await takeDown();
      try {
        const from = gw.logs.length;
        const headers = (operation: string) => ({ headers: { 'x-request-id': `${operation}-${NODE_ENV}` } });
        expectFixedAnswer(await gw.gql(LoginDocument, { email: user.email, password: PASSWORD }, headers('login')), 'SERVICE_UNAVAILABLE');
        expectFixedAnswer(await gw.gql(RegisterDocument, { email: newcomer, password: PASSWORD }, headers('register')), 'SERVICE_UNAVAILABLE');
        expectFixedAnswer(await gw.gql(RefreshDocument, { refreshToken: user.refreshToken }, headers('refresh')), 'SERVICE_UNAVAILABLE');
        const stop = startKeyReloader(gw.reloadKeys, 0.05, reloadLogger);
        // Up to 15 s: a reconnect attempt on a loaded machine can take a while to fail.
        for (let i = 0; i < 750 && reloads.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
        stop();
        expect(reloads, 'the key reloader logged no failure').not.toHaveLength(0);

        const logs = gw.logs.slice(from);
        const unavailable = linesOf(logs, 'store unavailable');
        expect(unavailable).toHaveLength(3);
        // Each with the id of the request that met it, as its access line has.
        expect(unavailable.map((line) => line.reqId)).toEqual(['login', 'register', 'refresh'].map((operation) => `${operation}-${NODE_ENV}`));
        const [reload] = linesOf(reloads, 'signing keys not reloaded');
        // Stack frames in development only, as for an unexpected error.
        for (const { err } of unavailable) {
          if (NODE_ENV === 'development') expect(err!.stack).toMatch(/^\s+at /m);
          else expect(err).not.toHaveProperty('stack');
        }
        for (const { err } of [...unavailable, reload!]) {
          expect(err!.type).toBe('DrizzleQueryError');
          // The driver's reason: the connection cut (ECONNRESET, 57P01…) or refused (55000).
          expect(codesOf(err)).toEqual([expect.stringMatching(/^(E[A-Z]+|CONNECT[A-Z_]+|[0-9A-Z]{5})$/)]);
        }
        expectNoQueryIn([...logs, ...reloads].join(''), [
          user.email,
          newcomer,
          PASSWORD,
          user.refreshToken!,
          hashOpaqueToken(user.refreshToken!),
          named.name!,
        ]);
      } finally {
        await restore();
      }
    } finally {
      await gw.close();
      await database.close();
    }
  }, 60_000);
});

describe('a start-up or admin command without its database', () => {
  it('names the driver code (ECONNREFUSED), not the query', async () => {
    const closed = await freePort();
    const env = childEnv({
      NODE_ENV: 'production',
      JWT_ISSUER,
      SINGLE_INSTANCE: 'true',
      ENCRYPTION_KEYS: KEYS,
      PORT: String(await freePort()),
      DATABASE_URL: `postgres://gateway_test:gateway_test@127.0.0.1:${closed}/none`,
    });
    const email = uniqueEmail('operator');
    const [start, admin] = await Promise.all([runTsx('src/main.ts', [], env), runTsx('src/cli/admin.ts', ['disable-user', email], env)]);
    expect(start.code).toBe(1);
    expect(start.stderr).toMatch(/^Failed to start: connect ECONNREFUSED 127\.0\.0\.1:\d+$/m);
    expect(admin.code).toBe(1);
    expect(admin.stderr).toMatch(/^admin: failed: connect ECONNREFUSED 127\.0\.0\.1:\d+$/m);
    expectNoQueryIn(start.stderr + admin.stderr, [email]);
  }, 60_000);
});

/**
 * A script loaded before the process (`NODE_OPTIONS=--import`) that, once `trigger` comes, leaves
 * a rejection nobody handles (or, `thrown`, throws from a callback): a driver's error whose
 * message and detail quote a query's values (`wrapped`: inside drizzle's wrapper, whose message
 * holds the query and its parameters).
 */
function preloadDroppingARejection(trigger: 'on SIGUSR2' | 'once heard', { wrapped, thrown = false }: { wrapped: boolean; thrown?: boolean }) {
  const error = wrapped ? "new Error('Failed query: insert into users values ($1) params: leaked@example.com', { cause })" : 'cause';
  const reject = [
    "  const cause = Object.assign(new Error('duplicate key value'), { name: 'PostgresError', code: '23505', detail: 'Key (email)=(leaked@example.com) already exists.' });",
    thrown ? `  setImmediate(() => { throw ${error}; });` : `  void Promise.reject(${error});`,
  ];
  const script =
    trigger === 'on SIGUSR2'
      ? ["process.on('SIGUSR2', () => {", ...reject, '});']
      : ['const waiting = setInterval(() => {', "  if (process.listenerCount('unhandledRejection') === 0) return;", '  clearInterval(waiting);', ...reject, '}, 5);'];
  const dir = tempDir('unhandled');
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const preload = path.join(dir, 'drop-a-promise.mjs');
  writeFileSync(preload, [...script, ''].join('\n'));
  return { dir, preload };
}

describe('an error nothing handled (a library that drops a promise)', () => {
  // Production needs PostgreSQL; development runs on either.
  const modes = process.env.DATABASE_URL ? MODES : (['development'] as const);
  // A promise dropped in either mode; an exception thrown from a callback, in development.
  const cases = [...modes.map((mode) => [mode, 'rejection'] as const), ['development', 'exception'] as const];
  it.each(cases)('ends the server in %s, for an unhandled %s, with one fatal line of its class and codes: not its message, properties or stack', async (NODE_ENV, kind) => {
    // On SIGUSR2, as drizzle wraps a driver's error.
    const { preload } = preloadDroppingARejection('on SIGUSR2', { wrapped: true, thrown: kind === 'exception' });
    // Migrated, either way: the subject is the crash, not a first start.
    const named = await createNamedDatabase({ migrated: true });
    onTestFinished(() => named.drop());
    const env = {
      NODE_ENV,
      JWT_ISSUER,
      SINGLE_INSTANCE: 'true',
      ENCRYPTION_KEYS: KEYS,
      PORT: String(await freePort()),
      NODE_OPTIONS: `--import ${preload}`,
      ...named.env,
    };
    const child = spawnTsx('src/main.ts', [], childEnv(env));
    onTestFinished(() => child.killAll());
    await child.waitFor(/ready at/, 90_000);
    child.process.kill('SIGUSR2');
    expect(await child.exited).toBe(1);
    const output = child.stdout() + child.stderr();
    expect(output).not.toMatch(/leaked@example\.com|Failed query|duplicate key|params/);
    const fatal = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; msg: string; err?: Described })
      .filter((line) => line.msg === 'crashed: an error nothing handled');
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!.level).toBe(60);
    expect(fatal[0]!.err).toMatchObject({ type: 'Error', cause: { type: 'PostgresError', code: '23505' } });
    // The frames in development only, and never Node's own report of the error.
    if (NODE_ENV === 'development') expect(fatal[0]!.err!.stack).toMatch(/^\s+at /m);
    else expect(output).not.toMatch(/^\s+at /m);
  }, 120_000);

  it('says so on stderr when the log is silent, and in the admin commands, as one line', async () => {
    // Once the process's own handler listens, installed as it starts (without one, Node's
    // report would print the message and properties): the driver's error itself.
    const { dir, preload } = preloadDroppingARejection('once heard', { wrapped: false });
    const env = { JWT_ISSUER, ENCRYPTION_KEYS: KEYS, DATA_DIR: path.join(dir, 'data'), PORT: String(await freePort()), NODE_OPTIONS: `--import ${preload}` };
    const server = await runTsx('src/main.ts', [], childEnv({ ...env, NODE_ENV: 'test', LOG_LEVEL: 'silent' })); // test: no stack frames, as in production
    expect(server.code).toBe(1);
    expect(server.stderr.trim()).toBe('crashed: an error nothing handled: {"type":"PostgresError","code":"23505"}');
    const admin = await runTsx('src/cli/admin.ts', ['keys', 'list'], childEnv(env));
    expect(admin.code).toBe(1);
    expect(admin.stderr.trim()).toBe('admin: crashed: the database answered: duplicate key value (SQLSTATE 23505)');
    expect(server.stdout + admin.stdout).not.toMatch(/leaked@example\.com|^\s+at /m);
  }, 120_000);
});
