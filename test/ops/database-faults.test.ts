// Rule: a fault of the database while a connection is set up, or a statement it cancels, costs
// the request it hit and nothing more: no unhandled rejection (which would end the process and
// every request in flight with it), and an answer the client can retry (SERVICE_UNAVAILABLE).
import { connect, createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { LoginDocument, SessionsDocument } from '../gql/graphql';
import { codeOf, PASSWORD, signUp } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { databaseUrlFor } from '../helpers/postgres-urls';
import { createNamedDatabase, freePort, type NamedDatabase } from '../helpers/processes';
import { openPostgres } from '../../src/storage/postgres';

const KEYS = generateEncryptionKeyEntry('k1');
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) console.log('skipping database-faults tests: they need DATABASE_URL (PGlite has no connections)');

/** Rejections nobody handled while `work` ran (vitest would report them too, after the fact). */
async function unhandledDuring(work: () => Promise<void>) {
  const unhandled: unknown[] = [];
  const record = (reason: unknown) => void unhandled.push(reason);
  process.on('unhandledRejection', record);
  try {
    await work();
    await new Promise((resolve) => setTimeout(resolve, 200)); // one still on its way
  } finally {
    process.off('unhandledRejection', record);
  }
  return unhandled;
}

/**
 * A TCP relay to PostgreSQL that cuts a connection as soon as its client sends a statement
 * naming `pattern`: a server or pooler that fails at that moment.
 */
async function cuttingRelay(target: URL, pattern: string) {
  const [host, targetPort] = [target.hostname, Number(target.port || 5432)];
  const sockets = new Set<Socket>();
  let cuts = 0;
  const server = createServer((client) => {
    const upstream = connect(targetPort, host);
    upstream.pipe(client);
    client.on('data', (chunk: Buffer) => {
      if (chunk.includes(pattern)) {
        cuts++;
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    for (const socket of [client, upstream]) {
      socket.on('error', () => {});
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    cuts: () => cuts,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

describe.skipIf(!databaseUrl)('database faults', () => {
  let named: NamedDatabase;
  beforeAll(async () => {
    named = await createNamedDatabase({ migrated: true });
  });
  afterAll(() => named?.drop());

  it('a connection cut while it is set up (a catalog query of the driver, say) leaves no unhandled rejection', async () => {
    // postgres.js's own set-up query (the array types, pg_catalog.pg_type) was sent on every
    // new connection and its promise dropped: cut there, the process would end.
    const relay = await cuttingRelay(new URL(databaseUrl!), 'pg_catalog.pg_type');
    const url = new URL(databaseUrlFor(databaseUrl!, named.name!));
    url.hostname = '127.0.0.1';
    url.port = String(relay.port);
    const database = await openPostgres(url.toString(), { max: 3 });
    const gw = await startGateway({ database, encryptionKeys: KEYS, env: { DATABASE_URL: url.toString() } });
    try {
      const unhandled = await unhandledDuring(async () => {
        const user = await signUp(gw);
        const sessions = await gw.gql(SessionsDocument, {}, { token: user.accessToken });
        expect(sessions.errors).toBeUndefined();
        expect(sessions.data!.sessions).toHaveLength(1);
      });
      expect(unhandled).toEqual([]);
    } finally {
      await gw.close();
      await database.close();
      await relay.close();
    }
  });

  /**
   * A gateway whose database connections give up on a statement after 300 ms (`setting`), with a
   * signed-up user, while `table` is held locked by another connection; `release` lets it go.
   */
  async function whileLocked(setting: string, table: string, run: (gw: TestGateway, user: Awaited<ReturnType<typeof signUp>>, release: () => void) => Promise<void>) {
    const url = databaseUrlFor(databaseUrl!, named.name!);
    await named.admin(`ALTER DATABASE "${named.name}" SET ${setting} = '300ms'`);
    const { default: postgres } = await import('postgres');
    const holder = postgres(url, { max: 1, onnotice: () => {} });
    // Connections made from now on take the setting.
    const database = await openPostgres(url, { max: 3 });
    const gw = await startGateway({ database, encryptionKeys: KEYS, env: { DATABASE_URL: url } });
    let release!: () => void;
    try {
      const user = await signUp(gw);
      const locked = new Promise<void>((resolve) => {
        void holder.begin(async (tx) => {
          await tx.unsafe(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
          resolve();
          await new Promise<void>((done) => (release = done));
        });
      });
      await locked;
      await run(gw, user, release);
    } finally {
      release?.();
      await gw.close();
      await database.close();
      await holder.end();
      await named.admin(`ALTER DATABASE "${named.name}" RESET ${setting}`);
    }
  }

  it('a login whose account lookup the database cancels gives back its place in the hashing line', async () => {
    // The place is taken before the account is looked up, which now waits until it is cancelled.
    await whileLocked('statement_timeout', 'users', async (gw, user, release) => {
      expect(codeOf(await gw.gql(LoginDocument, { email: user.email, password: PASSWORD }))).toBe('SERVICE_UNAVAILABLE');
      expect(gw.deps.hasher.load).toEqual({ running: 0, waiting: 0 });
      release();
      expect((await gw.gql(LoginDocument, { email: user.email, password: PASSWORD })).errors).toBeUndefined();
    });
  });

  it.each([
    ['statement_timeout', '57014'],
    ['lock_timeout', '55P03'],
  ])('a statement the database cancels (%s) answers SERVICE_UNAVAILABLE, to retry, logged as %s', async (setting, sqlState) => {
    // A login's new session waits for the table, until the database gives up on it.
    await whileLocked(setting, 'sessions', async (gw, user, release) => {
      const from = gw.logs.length;
      const login = await gw.gql(LoginDocument, { email: user.email, password: PASSWORD });
      expect(codeOf(login)).toBe('SERVICE_UNAVAILABLE');
      expect(login.errors![0]!.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryAfter: 1 });
      const logged = gw.logs.slice(from).map((line) => JSON.parse(line) as { msg: string; err?: { cause?: { code?: string } } });
      expect(logged.find((line) => line.msg === 'store unavailable')?.err?.cause?.code).toBe(sqlState);
      release();
      const again = await gw.gql(LoginDocument, { email: user.email, password: PASSWORD });
      expect(again.errors).toBeUndefined();
    });
  });
});
