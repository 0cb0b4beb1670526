// Rule: /healthz and /readyz tell liveness from database readiness; logs hold one line per
// request with its id and never a password, token or variables; failures leak nothing.
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import type { Database } from '../../src/storage/postgres';
import { ChangePasswordDocument, LoginDocument, MeDocument, RefreshDocument, RegisterDocument } from '../gql/graphql';
import { codeOf, PASSWORD, signUp, uniqueEmail } from '../helpers/fixtures';
import { createTestDatabase, startGateway, type TestGateway } from '../helpers/gateway';
import { createNamedDatabase, type NamedDatabase } from '../helpers/processes';

let named: NamedDatabase | undefined;
let database: Database;
let gw: TestGateway;
let closeDatabase: () => Promise<void>;
const KEYS = generateEncryptionKeyEntry('k1');

beforeAll(async () => {
  // A database this file names itself (on Postgres), so it can take it down.
  if (process.env.DATABASE_URL) {
    named = await createNamedDatabase({ migrated: true });
    database = await named.open();
  } else {
    database = (await createTestDatabase()).database;
  }
  let closed = false;
  closeDatabase = async () => {
    if (closed) return;
    closed = true;
    await database.close();
  };
  gw = await startGateway({ database, encryptionKeys: KEYS });
});
afterAll(async () => {
  await gw?.close();
  await closeDatabase?.();
  await named?.drop();
});

const parsed = (lines: string[]) => lines.map((line) => JSON.parse(line) as Record<string, unknown>);

/** The 'request' lines logged after `from`, once `count` of them have arrived (they follow the response). */
async function requestLines(from: number, count: number) {
  const lines = () => parsed(gw.logs.slice(from)).filter((l) => l.msg === 'request');
  for (let i = 0; i < 50 && lines().length < count; i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 50)); // room for a stray extra line to show up
  return lines();
}

describe('health routes', () => {
  it('/healthz and /readyz answer 200 while the database answers', async () => {
    const health = await fetch(`${gw.url}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${gw.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', rateLimits: process.env.REDIS_URL ? 'redis' : 'memory', degraded: false });
  });
});

describe('logs', () => {
  it('never hold passwords, tokens or variables, and have one line per request with its id', async () => {
    const from = gw.logs.length;
    const email = uniqueEmail('logs');
    const password = `Logged-Never-${randomBytes(6).toString('hex')}-7!`;
    const newPassword = `Rotated-Never-${randomBytes(6).toString('hex')}-8!`;

    expect((await gw.gql(RegisterDocument, { email, password })).data?.register).toBe(true);
    const login = await gw.gql(LoginDocument, { email, password });
    const first = login.data!.login;
    if (first.__typename !== 'AuthPayload') throw new Error('expected an AuthPayload');
    const refreshed = await gw.gql(RefreshDocument, { refreshToken: first.refreshToken });
    expect(refreshed.errors).toBeUndefined();
    const second = refreshed.data!.refresh;
    const changed = await gw.gql(
      ChangePasswordDocument,
      { currentPassword: password, newPassword },
      { token: second.accessToken },
    );
    expect(changed.data?.changePassword).toBe(true);
    const wrong = await gw.gql(LoginDocument, { email, password }); // the old password, now wrong
    expect(codeOf(wrong)).toBe('INVALID_CREDENTIALS');
    const cookieRefresh = await gw.gql(RefreshDocument, {}, { cookie: `__Host-refresh=${second.refreshToken}` });
    expect(cookieRefresh.errors).toBeUndefined();
    // The successor of a cookie's token goes into the cookie only.
    const cookieSuccessor = /__Host-refresh=([^;]+)/.exec(cookieRefresh.headers.get('set-cookie') ?? '')![1]!;

    const secrets = [
      password,
      newPassword,
      first.accessToken,
      first.refreshToken!,
      second.accessToken,
      second.refreshToken!,
      cookieRefresh.data!.refresh.accessToken,
      cookieSuccessor,
    ];
    const logged = gw.logs.slice(from).join('');
    for (const secret of secrets) expect(logged).not.toContain(secret);
    expect(logged).not.toContain('variables');

    const lines = await requestLines(from, 6);
    expect(lines).toHaveLength(6);
    const ids = lines.map((l) => l.reqId);
    for (const id of ids) expect(id).toEqual(expect.any(String));
    expect(new Set(ids).size).toBe(6);
    expect(lines.every((l) => l.path === '/graphql' && l.status === 200)).toBe(true);
  });

  /** A GET of `target`, written into the request line as it is (fetch would make it a path); the raw answer. */
  const rawGet = (port: string, target: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () =>
        socket.end(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`),
      );
      let text = '';
      socket.on('data', (chunk) => (text += String(chunk)));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });

  it('logs a request line in absolute form by its path, without the credentials written before it', async () => {
    const from = gw.logs.length;
    const { port } = new URL(gw.url);
    const answer = await rawGet(port, `http://alice:Absolute-Form-Secret@127.0.0.1:${port}/healthz?x=Query-Secret`);
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    const [line] = await requestLines(from, 1);
    expect(line).toMatchObject({ path: '/healthz', status: 200 });
    expect(gw.logs.slice(from).join('')).not.toMatch(/Secret|alice/);
  });

  it('logs a path written as a URL without its scheme from its host on, without the credentials before it', async () => {
    const from = gw.logs.length;
    const { port } = new URL(gw.url);
    // A password may hold an @; a request line in absolute form may carry such a path too; and a
    // browser reads any run of slashes and backslashes before it as the start of a URL.
    const targets = [
      `//bob:Schemeless@Secret@127.0.0.1:${port}/graphql`,
      `http://127.0.0.1:${port}//bob:Schemeless-Secret@127.0.0.1:${port}/graphql`,
      `///bob:Schemeless-Secret@127.0.0.1:${port}/graphql`,
      `/\\bob:Schemeless-Secret@127.0.0.1:${port}/graphql`,
      `//\\/bob:Schemeless-Secret@127.0.0.1:${port}\\graphql`,
    ];
    for (const target of targets) expect(await rawGet(port, target)).toMatch(/^HTTP\/1\.1 404/);
    const lines = await requestLines(from, targets.length);
    expect(lines.map((l) => l.path)).toEqual([
      `//127.0.0.1:${port}/graphql`,
      `//127.0.0.1:${port}/graphql`,
      `//127.0.0.1:${port}/graphql`,
      `//127.0.0.1:${port}/graphql`,
      `//127.0.0.1:${port}\\graphql`,
    ]);
    expect(gw.logs.slice(from).join('')).not.toMatch(/Secret|bob/);
  });

  it('echoes a well-formed incoming x-request-id and logs under it; replaces a malformed one', async () => {
    const from = gw.logs.length;
    const given = `ops-${randomBytes(6).toString('hex')}`;
    const echoed = await gw.gql(MeDocument, {}, { headers: { 'x-request-id': given } });
    expect(echoed.headers.get('x-request-id')).toBe(given);
    const health = await fetch(`${gw.url}/healthz`, { headers: { 'x-request-id': 'not safe; <script>' } });
    const replaced = health.headers.get('x-request-id');
    expect(replaced).toMatch(/^[0-9a-f-]{36}$/);

    const lines = await requestLines(from, 2);
    expect(lines.map((l) => l.reqId)).toEqual([given, replaced]);
    expect(gw.logs.slice(from).join('')).not.toContain('<script>');
  });
});

describe('an unexpected failure inside a resolver', () => {
  it('answers INTERNAL_SERVER_ERROR with a fixed message, no stack or SQL, and logs none in production', async () => {
    const { email } = await signUp(gw);
    // Production settings on the same database (DATABASE_URL is only validated, not used here).
    const prod = await startGateway({
      database,
      encryptionKeys: KEYS,
      env: { NODE_ENV: 'production', JWT_ISSUER: 'https://auth.example.test', DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://unused@127.0.0.1/unused' },
    });
    // A table the login needs goes missing (as after a botched migration).
    await database.db.execute(sql`ALTER TABLE sessions RENAME TO sessions_gone`);
    try {
      for (const target of [gw, prod]) {
        const result = await target.gql(LoginDocument, { email, password: PASSWORD });
        expect(result.status).toBe(200);
        expect(codeOf(result)).toBe('INTERNAL_SERVER_ERROR');
        expect(result.errors![0]!.message).toBe('Internal server error.');
        expect(result.errors![0]!.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
        expect(JSON.stringify(result)).not.toMatch(/sessions|insert|stack|\.ts:/i);
      }
      const prodLogs = prod.logs.join('');
      expect(prodLogs).toContain('unexpected error');
      expect(prodLogs).not.toMatch(/sessions|insert|stack/i);
    } finally {
      await database.db.execute(sql`ALTER TABLE sessions_gone RENAME TO sessions`);
      await prod.close();
    }
    expect((await gw.gql(LoginDocument, { email, password: PASSWORD })).data?.login.__typename).toBe('AuthPayload');
  });
});

// Last: on PGlite the outage (closing the database) cannot be undone.
describe('when the database is down', () => {
  const takeDown = async () => {
    if (!named) return closeDatabase();
    await named.admin(`ALTER DATABASE "${named.name}" ALLOW_CONNECTIONS false`);
    await named.admin(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${named.name}' AND pid <> pg_backend_pid()`,
    );
  };
  const restore = () => named?.admin(`ALTER DATABASE "${named.name}" ALLOW_CONNECTIONS true`);

  if (process.env.DATABASE_URL) {
    it('an operation that needs it answers SERVICE_UNAVAILABLE over HTTP 200, without SQL, and recovers', async () => {
      const { email } = await signUp(gw);
      await takeDown();
      try {
        const from = gw.logs.length;
        const login = await gw.gql(LoginDocument, { email, password: PASSWORD });
        expect(login.status).toBe(200);
        expect(codeOf(login)).toBe('SERVICE_UNAVAILABLE');
        expect(login.errors![0]!.message).toBe('Service temporarily unavailable.');
        expect(JSON.stringify(login.errors)).not.toMatch(/select|users|gateway_ops/i);
        expect(gw.logs.slice(from).join('')).not.toContain(PASSWORD);
      } finally {
        await restore();
      }
      const again = await gw.gql(LoginDocument, { email, password: PASSWORD });
      expect(again.data?.login.__typename).toBe('AuthPayload');
    });
  }

  it('/readyz answers 503 while /healthz stays 200', async () => {
    await takeDown();
    try {
      const ready = await fetch(`${gw.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: 'unavailable', code: 'SERVICE_UNAVAILABLE', rateLimits: expect.any(String), degraded: true });
      expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    } finally {
      await restore();
    }
    if (named) expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
  });
});
