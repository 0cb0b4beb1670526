// Rule: `npm start` (tsx, so no decorator metadata from a compiler) serves the contract with zero
// configuration on the embedded database, stops cleanly on SIGTERM (even when slow to take it: no
// launcher process stands between the signal and the gateway; and when the signal goes to npm,
// as a process manager that runs `npm start` sends it; a second signal stops it at once), and production refuses to
// start without DATABASE_URL or ENCRYPTION_KEYS, naming the setting. The production build
// (`npm run build`, `npm run start:prod`) serves the same contract with libuv's pool sized to the
// password hashes plus one.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { getPriority } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { threadPoolSizeFor } from '../../src/thread-pool';
import { DEFAULT_PASSWORD_HASH_NICE } from '../../src/thread-priority';
import { LoginDocument, MeDocument, RegisterDocument } from '../gql/graphql';
import { PASSWORD, uniqueEmail } from '../helpers/fixtures';
import {
  buildGateway,
  childEnv,
  createNamedDatabase,
  freePort,
  gqlAt,
  isRunning,
  migratedDataDir,
  runTsx,
  spawnCommand,
  spawnScript,
  startProdArgs,
  tempDir,
  type Child,
  type NamedDatabase,
} from '../helpers/processes';

const READY = /ready at (http:\/\/\S+)/;
const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/**
 * Starts what `npm start` runs and waits for its "ready at" line (PGlite's first initdb is slow:
 * a test whose subject is not the first start runs on a copy of a migrated DATA_DIR).
 */
async function startProcess(env: Record<string, string>) {
  const port = await freePort();
  const child = spawnScript('start', childEnv({ PORT: String(port), ...env }));
  cleanups.push(() => child.killAll());
  const [, printed] = await child.waitFor(READY, 90_000);
  return { child, port, printed: printed!, url: `http://127.0.0.1:${port}/graphql` };
}

/** register → login → me over HTTP; returns the user's email. */
async function exerciseContract(url: string) {
  const email = uniqueEmail('start');
  expect((await gqlAt(url, RegisterDocument, { email, password: PASSWORD })).data?.register).toBe(true);
  const login = await gqlAt(url, LoginDocument, { email, password: PASSWORD });
  expect(login.errors).toBeUndefined();
  const payload = login.data!.login;
  if (payload.__typename !== 'AuthPayload') throw new Error('expected an AuthPayload');
  const me = await gqlAt(url, MeDocument, {}, { token: payload.accessToken });
  expect(me.errors).toBeUndefined();
  expect(me.data?.me).toMatchObject({ id: payload.user.id, email, roles: ['user'] });
  return email;
}

/** The nice value of each of a process's threads (Linux), in thread-id order. */
function threadNiceValues(pid: number) {
  return readdirSync(`/proc/${pid}/task`)
    .map(Number)
    .sort((a, b) => a - b)
    .map((tid) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): nice is the 19th field of the line.
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    });
}

async function stopWithSigterm(child: Child) {
  const started = Date.now();
  child.process.kill('SIGTERM');
  const code = await child.exited;
  expect(code, child.stderr()).toBe(0);
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(child.stdout().match(/"msg":"draining"/g)).toHaveLength(1);
  expect(child.stdout().match(/"msg":"stopped"/g)).toHaveLength(1);
}

/**
 * SIGTERM to a gateway too busy to take it at once (stopped for half a second, as a loaded
 * machine can leave it): it still drains and exits 0. The tsx command, which runs its script in
 * a second process and relays signals to it, kills that script with SIGKILL when it has not
 * taken a relayed signal within 60 ms, cutting the drain short (exit 143).
 */
async function stopWithSigtermWhileBusy(child: Child) {
  // The gateway's own log lines (written in batches) name the process that serves.
  const [, pid] = await child.waitFor(/"pid":(\d+)/, 5_000);
  const gatewayPid = Number(pid);
  const started = Date.now();
  process.kill(gatewayPid, 'SIGSTOP');
  child.process.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 500));
  try {
    process.kill(gatewayPid, 'SIGCONT');
  } catch {
    // gone already: something killed it while it could not run (the exit code says what)
  }
  const code = await child.exited;
  expect(code, child.stderr()).toBe(0);
  expect(child.stdout()).toMatch(/"signal":"SIGTERM","msg":"draining"[\s\S]*"msg":"stopped"/);
  expect(Date.now() - started).toBeLessThan(5_500);
  // One process: the command npm start runs is the gateway itself.
  expect(gatewayPid).toBe(child.process.pid);
}

/**
 * Runs `npm run <script>` until the gateway is ready, then sends SIGTERM to npm, as a process
 * manager that runs the npm script does. npm passes the signal on to the script's process; a
 * shell left between them would die of it and leave the gateway running, undrained, without a
 * parent.
 */
async function stopNpmWithSigterm(script: string, env: Record<string, string>) {
  const npm = spawnCommand('npm', ['run', script], childEnv({ PORT: String(await freePort()), ...env }));
  cleanups.push(() => npm.killAll());
  await npm.waitFor(READY, 90_000);
  // The gateway's log lines (written in batches) name the process that serves.
  const [, pid] = await npm.waitFor(/"pid":(\d+)/, 5_000);
  const gatewayPid = Number(pid);
  expect(gatewayPid).not.toBe(npm.process.pid);
  const started = Date.now();
  npm.process.kill('SIGTERM');
  expect(await npm.exited, npm.stderr()).toBe(0);
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(npm.stdout()).toMatch(/"signal":"SIGTERM","msg":"draining"[\s\S]*"msg":"stopped"/);
  expect(isRunning(gatewayPid)).toBe(false);
}

describe('npm start', () => {
  it('starts with zero configuration on the embedded database, serves, stops on SIGTERM, and keeps its data', async () => {
    const dataDir = path.join(tempDir('gateway-start'), 'data'); // does not exist yet
    cleanups.push(() => rmSync(path.dirname(dataDir), { recursive: true, force: true }));
    const first = await startProcess({ DATA_DIR: dataDir });
    expect(first.printed).toBe(`http://localhost:${first.port}/graphql`);
    const email = await exerciseContract(first.url);
    expect(first.child.stdout()).not.toContain('JWT_ISSUER names port 0');
    expect(first.child.stdout()).not.toContain('NODE_ENV=test'); // development is no test mode

    const keysFile = path.join(dataDir, 'encryption-keys');
    expect(existsSync(keysFile)).toBe(true);
    expect(statSync(keysFile).mode & 0o777).toBe(0o600);
    expect(existsSync(path.join(dataDir, 'pgdata'))).toBe(true);
    await stopWithSigterm(first.child);

    // A restart reads the same keys file (or it could not open its signing key) and database.
    const keys = readFileSync(keysFile, 'utf8');
    const second = await startProcess({ DATA_DIR: dataDir });
    expect(readFileSync(keysFile, 'utf8')).toBe(keys);
    const login = await gqlAt(second.url, LoginDocument, { email, password: PASSWORD });
    expect(login.data?.login.__typename).toBe('AuthPayload');
    await stopWithSigtermWhileBusy(second.child);
  }, 180_000);

  it('warns when the issuer it would put in tokens names port 0 (PORT=0 without JWT_ISSUER), of a test mode and of misspelt settings', async () => {
    const dataDir = await migratedDataDir('gateway-port-0');
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    // A misspelt setting and a test mode ride along: each is said once at start.
    const { child, printed } = await startProcess({ DATA_DIR: dataDir, PORT: '0', NODE_ENV: 'test', REFRESH_TOKEN_TRANSPRT: 'cookie' });
    expect(printed).toMatch(/^http:\/\/localhost:[1-9]\d*\/graphql$/);
    const [warning] = await child.waitFor(/.*JWT_ISSUER names port 0.*/, 10_000);
    expect(JSON.parse(warning!)).toMatchObject({ level: 40, issuer: 'http://localhost:0' });
    const [misspelt] = await child.waitFor(/.*look like settings but are none.*/, 10_000);
    expect(JSON.parse(misspelt!)).toMatchObject({ level: 40, names: ['REFRESH_TOKEN_TRANSPRT'] });
    const [mode] = await child.waitFor(/.*NODE_ENV=test: not production.*/, 10_000);
    expect(JSON.parse(mode!)).toMatchObject({ level: 40 });
    await stopWithSigterm(child);
  }, 120_000);

  // Real Postgres exists only when DATABASE_URL is set; without it, production has nothing to use.
  if (process.env.DATABASE_URL) {
    /** Production settings on a database of its own. */
    const productionEnv = async () => {
      const named: NamedDatabase = await createNamedDatabase({ migrated: true });
      cleanups.push(() => named.drop());
      return {
        ...named.env,
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        JWT_ISSUER: 'https://auth.example.test',
        ENCRYPTION_KEYS: generateEncryptionKeyEntry('k1'),
        // Its own counter namespace: the shared Redis outlives this run (REGISTER_LIMIT_IP is 10/h).
        ...(process.env.REDIS_URL
          ? { REDIS_URL: process.env.REDIS_URL, RATE_LIMIT_PREFIX: `test:${randomBytes(6).toString('hex')}` }
          : { SINGLE_INSTANCE: 'true' }),
      };
    };

    it('npm run start:prod drains and leaves nothing running when the SIGTERM goes to npm itself', async () => {
      await buildGateway();
      await stopNpmWithSigterm('start:prod', await productionEnv());
    }, 60_000);

    it('serves in production on DATABASE_URL with explicit ENCRYPTION_KEYS', async () => {
      const { child, url } = await startProcess(await productionEnv());
      await exerciseContract(url);
      expect(child.stdout()).not.toContain('development key');
      await stopWithSigterm(child);
    }, 60_000);

    // On PostgreSQL and Redis, whose closing takes a moment: Apollo Server's own signal handler
    // (on outside NODE_ENV=test) sent the signal again once its drain had ended, which a drain of
    // two seconds or more took for a second signal (exit 143, no "stopped", nothing closed).
    it('after a drain of two seconds or more, finishes the request in flight and exits 0 with "stopped": no second signal comes from inside', async () => {
      const { child, port } = await startProcess(await productionEnv());
      const socket = connect(port, '127.0.0.1');
      cleanups.push(() => socket.destroy());
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.on('error', () => {});
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk));
      const body = JSON.stringify({ query: '{ __typename }' });
      // connection: close, so that the drain ends with this request rather than at its 10 s.
      socket.write(`POST /graphql HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
      await fetch(`http://127.0.0.1:${port}/healthz`, { headers: { connection: 'close' } }).then((response) => response.text());

      const signalledAt = Date.now();
      child.process.kill('SIGTERM');
      await child.waitFor(/"msg":"draining"/, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      socket.write(body.slice(5));
      expect(await child.exited, child.stderr()).toBe(0);
      expect(answer).toMatch(/^HTTP\/1\.1 200/);
      expect(child.stdout()).not.toContain('stopping at once');
      expect(child.stdout().match(/"msg":"stopped"/g)).toHaveLength(1);
      expect(Date.now() - signalledAt).toBeLessThan(8_000);
    }, 60_000);

    it('ends the drain once the request in flight is answered, on a connection kept alive too (not at the 10 s cut-off)', async () => {
      const { child, port } = await startProcess(await productionEnv());
      const socket = connect(port, '127.0.0.1');
      cleanups.push(() => socket.destroy());
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.on('error', () => {});
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk));
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      const body = JSON.stringify({ query: '{ __typename }' });
      // Kept alive: the client would send its next request on this connection.
      socket.write(`POST /graphql HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
      await fetch(`http://127.0.0.1:${port}/healthz`, { headers: { connection: 'close' } }).then((response) => response.text());

      child.process.kill('SIGTERM');
      await child.waitFor(/"msg":"draining"/, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const answeredAt = Date.now();
      socket.write(body.slice(5));
      expect(await child.exited, child.stderr()).toBe(0);
      await closed;
      expect(answer).toMatch(/^HTTP\/1\.1 200/);
      expect(child.stdout().match(/"msg":"stopped"/g)).toHaveLength(1);
      expect(Date.now() - answeredAt).toBeLessThan(5_000);
    }, 60_000);

    it('warns at start while ENCRYPTION_KEYS keeps the development key after a production one', async () => {
      const env = await productionEnv();
      // After a production key, the development key only opens what it sealed (config.test.ts).
      const { child } = await startProcess({ ...env, ENCRYPTION_KEYS: `${env.ENCRYPTION_KEYS},${generateEncryptionKeyEntry('dev1')}` });
      const [kept] = await child.waitFor(/.*ENCRYPTION_KEYS keeps the development key.*/, 10_000);
      expect(JSON.parse(kept!)).toMatchObject({ level: 40, msg: expect.stringContaining('"dev1"') });
      await stopWithSigterm(child);
    }, 60_000);

    it('runs as built JavaScript (npm run build, npm run start:prod), with libuv\'s pool sized to the password hashes plus one and niced to PASSWORD_HASH_NICE', async () => {
      await buildGateway();
      const production = await productionEnv();
      const secret = randomBytes(24).toString('base64url');
      const startBuilt = async (env: Record<string, string>) => {
        const [port, subgraphPort] = [await freePort(), await freePort()];
        // With the subgraph listener: its code is a chunk of the build of its own, loaded only then.
        const listeners = { PORT: String(port), SUBGRAPH_PORT: String(subgraphPort), SUBGRAPH_SECRET: secret };
        const child = spawnCommand(process.execPath, startProdArgs(), childEnv({ ...production, ...listeners, ...env }));
        cleanups.push(() => child.killAll());
        await child.waitFor(/Federation subgraph listener at/, 30_000);
        const sdl = await fetch(`http://127.0.0.1:${subgraphPort}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-subgraph-secret': secret },
          body: JSON.stringify({ query: '{ _service { sdl } }' }),
        });
        expect(((await sdl.json()) as { data: { _service: { sdl: string } } }).data._service.sdl).toContain('@key(fields: "id")');
        // register and login hash passwords: the pool has started when they answer.
        await exerciseContract(`http://127.0.0.1:${port}/graphql`);
        return { child, nice: threadNiceValues(child.process.pid!) };
      };
      const sized = threadPoolSizeFor({})!;
      const built = await startBuilt({});
      // The same build with three more pool threads set by hand (more than Node's own four here):
      // three more threads, lowered too.
      const wider = await startBuilt({ UV_THREADPOOL_SIZE: String(sized + 3) });
      expect(wider.nice.length - built.nice.length).toBe(3);
      // By default exactly the pool's threads are lowered to nice 10; the event loop's thread and
      // V8's keep the nice value the process started with (the test runner's). A thread already
      // at lower priority is never raised.
      const inherited = getPriority();
      const lowered = inherited < DEFAULT_PASSWORD_HASH_NICE ? sized : 0;
      expect(built.nice.filter((n) => n !== inherited)).toEqual(new Array(lowered).fill(DEFAULT_PASSWORD_HASH_NICE));
      expect(built.nice[0]).toBe(inherited); // the main thread: tasks in id order, the process's own first
      expect(built.child.stdout()).toContain(`"nice":${DEFAULT_PASSWORD_HASH_NICE},"threads":${lowered}`);
      const widerLowered = inherited < DEFAULT_PASSWORD_HASH_NICE ? sized + 3 : 0;
      expect(wider.nice.filter((n) => n !== inherited)).toEqual(new Array(widerLowered).fill(DEFAULT_PASSWORD_HASH_NICE));
      expect(wider.child.stdout()).toContain(`"nice":${DEFAULT_PASSWORD_HASH_NICE},"threads":${widerLowered}`);
      expect(wider.child.stdout() + wider.child.stderr()).not.toContain('could not be applied');
      await stopWithSigterm(built.child);
      await stopWithSigterm(wider.child);
    }, 90_000);
  }

  it('drains and leaves nothing running when the SIGTERM goes to npm itself (`npm start` under a process manager)', async () => {
    const dataDir = await migratedDataDir('gateway-npm-start');
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    await stopNpmWithSigterm('start', { DATA_DIR: dataDir });
  }, 120_000);

  it('opens the subgraph listener beside the public one when SUBGRAPH_PORT is set, on SUBGRAPH_HOST, and closes both on SIGTERM', async () => {
    const subgraphPort = await freePort();
    const secret = randomBytes(24).toString('base64url');
    const dataDir = await migratedDataDir('gateway-subgraph');
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    // Another loopback address than HOST's 127.0.0.1: the listener is there, and only there.
    const host = '127.0.0.2';
    const { child } = await startProcess({ DATA_DIR: dataDir, SUBGRAPH_PORT: String(subgraphPort), SUBGRAPH_HOST: host, SUBGRAPH_SECRET: secret });
    await child.waitFor(new RegExp(`Federation subgraph listener at http://${host.replaceAll('.', '\\.')}:${subgraphPort}/graphql`), 10_000);
    const notOnHost = await fetch(`http://127.0.0.1:${subgraphPort}/graphql`).then(
      () => 'answered',
      (error: { cause?: { code?: string } }) => error.cause?.code,
    );
    expect(notOnHost).toBe('ECONNREFUSED');
    const ask = (headers: Record<string, string>) =>
      fetch(`http://${host}:${subgraphPort}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query: '{ _service { sdl } }' }),
      });
    const served = (await (await ask({ 'x-subgraph-secret': secret })).json()) as { data: { _service: { sdl: string } } };
    expect(served.data._service.sdl).toContain('@key(fields: "id")');
    expect((await ask({})).status).toBe(403);
    await stopWithSigterm(child);
  }, 120_000);
});

describe('a second signal', () => {
  it('while draining, two seconds or more after the first, stops at once, cutting off the request in flight, and exits as the signal would (130 for SIGINT)', async () => {
    const dataDir = await migratedDataDir('gateway-second-signal');
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const { child, port } = await startProcess({ DATA_DIR: dataDir });
    // A request in flight (its body half sent), which the drain would wait 10 s for.
    const socket = connect(port, '127.0.0.1');
    cleanups.push(() => socket.destroy());
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.on('error', () => {});
    const body = JSON.stringify({ query: '{ __typename }' });
    socket.write(`POST /graphql HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
    // Its head has been read once a request sent after it is answered.
    await fetch(`http://127.0.0.1:${port}/healthz`).then((response) => response.text());

    child.process.kill('SIGINT');
    // The same Ctrl-C again, as npm passes it on to the gateway that the terminal signalled too
    // (a moment later: two pending at once would be one): the drain goes on.
    await new Promise((resolve) => setTimeout(resolve, 100));
    child.process.kill('SIGINT');
    await child.waitFor(/"msg":"draining"/, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(child.stdout()).not.toContain('stopping at once');
    expect(isRunning(child.process.pid!)).toBe(true);
    const secondAt = Date.now();
    child.process.kill('SIGINT');
    expect(await child.exited, child.stderr()).toBe(130);
    expect(Date.now() - secondAt).toBeLessThan(5_000);
    expect(child.stdout()).toMatch(/"signal":"SIGINT","msg":"stopping at once: a second signal came while draining/);
    expect(child.stdout()).not.toContain('"msg":"stopped"');
  }, 120_000);
});

describe('without stdout', () => {
  /** Resolves with the exit code, or 'still running' after `ms`. */
  const exitWithin = (child: Child, ms: number) => Promise.race([child.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), ms))]);

  it('stops as on SIGTERM and exits 1 when whatever read its stdout has gone, closing within 10 s a connection its client keeps', async () => {
    const dataDir = await migratedDataDir('gateway-stdout-closed');
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const child = spawnScript('start', childEnv({ DATA_DIR: dataDir, PORT: String(await freePort()) }));
    cleanups.push(() => child.killAll());
    const [, url] = await child.waitFor(READY, 90_000);
    const { port } = new URL(url!);

    // A request in flight (its body half sent) on a connection this client keeps open: a login,
    // which needs the database, so that it is closed only once the requests are done.
    const socket = connect(Number(port), '127.0.0.1');
    cleanups.push(() => socket.destroy());
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    let answered = '';
    socket.on('data', (chunk) => (answered += String(chunk)));
    socket.on('error', (error) => (answered += `(${error.message})`));
    const login = JSON.stringify({ query: 'mutation { login(email: "nobody@example.test", password: "Not-the-password-1") { __typename } }' });
    socket.write(`POST /graphql HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${login.length}\r\n\r\n${login.slice(0, 5)}`);
    // Once the gateway answers a request sent after that one, it has read that one's head: the
    // request is in flight, not a connection still idle that a stop may close at once (under
    // load it was, 1 run in several, when lines buffered from the start met the closed stdout).
    await fetch(new URL('/healthz', url)).then((response) => response.text());

    child.process.stdout!.destroy();
    // Another request, whose access line goes to the closed stdout (unless lines still buffered from
    // the start got there first, and the gateway is already stopping).
    await fetch(url!, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' }).catch(() => {});
    await expect.poll(() => child.stderr(), { timeout: 20_000 }).toContain('stdout closed (EPIPE): stopping');
    // The request in flight finishes; its connection stays open from this side: the drain closes it.
    socket.write(login.slice(5));
    const stoppingAt = Date.now();
    expect(await exitWithin(child, 30_000), child.stderr()).toBe(1);
    expect(Date.now() - stoppingAt).toBeLessThan(25_000);
    expect(answered).toMatch(/^HTTP\/1\.1 200 /);
    expect(answered).toContain('"code":"INVALID_CREDENTIALS"');
    expect(child.stderr()).not.toContain('Unhandled');
  }, 180_000);

  it('exits at once when stdout closed before its last lines were written', async () => {
    // A line logged after the reader went, then an exit before the periodic flush: the exit writes it.
    const script = [
      "import { batchedStdout, createLogger } from './src/logger.ts';",
      "const logger = createLogger('info', batchedStdout());",
      "setTimeout(() => { logger.info('late line'); process.exit(0); }, 1500);",
    ].join(' ');
    // Into a real pipe whose reader is gone at once (a socket pair, as node's spawn makes, tells the
    // writer of its closed peer before any write).
    const pipeline = '"$NODE" --import tsx --input-type=module -e "$SCRIPT" | true; echo "node exited: ${PIPESTATUS[0]}" >&2';
    const child = spawnCommand('bash', ['-c', pipeline], childEnv({ NODE: process.execPath, SCRIPT: script }));
    cleanups.push(() => child.killAll());
    expect(await exitWithin(child, 20_000), child.stderr()).toBe(0);
    expect(child.stderr()).toContain('node exited: 0');
  }, 60_000);
});

describe('NODE_ENV=production', () => {
  it('refuses to start without DATABASE_URL or without ENCRYPTION_KEYS, naming the missing one', async () => {
    const [noDatabase, noKeys] = await Promise.all([
      runTsx('src/main.ts', [], childEnv({ NODE_ENV: 'production', ENCRYPTION_KEYS: generateEncryptionKeyEntry('k1') })),
      runTsx('src/main.ts', [], childEnv({ NODE_ENV: 'production', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' })),
    ]);
    expect(noDatabase.code).not.toBe(0);
    expect(noDatabase.stderr).toContain('DATABASE_URL');
    expect(noDatabase.stderr).not.toContain('ENCRYPTION_KEYS');
    expect(noKeys.code).not.toBe(0);
    expect(noKeys.stderr).toContain('ENCRYPTION_KEYS');
    for (const run of [noDatabase, noKeys]) expect(run.stdout).not.toContain('ready at');
  }, 30_000);

  // An empty NODE_ENV (`NODE_ENV=` in an env file) is as good as none: the settings read it as unset.
  it.each([
    ['without NODE_ENV', {}],
    ['with an empty NODE_ENV', { NODE_ENV: '' }],
  ])('is what npm run start:prod runs %s: no embedded database, no generated keys', async (_, extra) => {
    await buildGateway();
    const dataDir = tempDir('gateway-start-prod');
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const child = spawnCommand(process.execPath, startProdArgs(), childEnv({ PORT: String(await freePort()), DATA_DIR: dataDir, ...extra }));
    expect(await child.exited).not.toBe(0);
    expect(child.stderr()).toContain('DATABASE_URL');
    expect(child.stdout()).not.toContain('ready at');
    expect(existsSync(path.join(dataDir, 'encryption-keys'))).toBe(false);
  }, 30_000);

  it('says in one line, with no stack, that the bundle is missing from a deployment', async () => {
    const outDir = tempDir('gateway-launcher-only');
    cleanups.push(() => rmSync(outDir, { recursive: true, force: true }));
    await buildGateway(outDir);
    rmSync(path.join(outDir, 'gateway.js'));
    const child = spawnCommand(process.execPath, [path.join(outDir, 'launch.cjs')], childEnv({ PORT: String(await freePort()) }));
    expect(await child.exited).toBe(1);
    const lines = child.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Failed to start: Error \(ERR_MODULE_NOT_FOUND\): Cannot find module /);
  }, 30_000);
});
