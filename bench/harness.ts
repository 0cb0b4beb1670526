/**
 * The benchmark: a bare Apollo baseline, then the gateway (a child process of its own) on real
 * PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set, else embedded, with the rate
 * limits raised so that it measures work rather than refusals. Every figure is paired with a
 * baseline measured in the same run, so the ratios mean something on a noisy machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config';
import { generateEncryptionKeyEntry } from '../src/domain/crypto';
import { threadPoolSizeFor } from '../src/thread-pool';
import { measureArgon2Bound } from './argon2-bound';
import { createBenchDatabase } from './database';
import { mergeLoads, runLoad, type LoadResult } from './load';
import { classifyLogin, loginBody } from './logins';
import { buildServers, childEnv, freePort, machineBusySeconds, ROOT, startServer, type ServerProcess } from './processes';
import type { StormJob } from './storm-client';
import { evaluateTargets, type BenchResults } from './report';
import { seedSessions, type Session } from './seed';

export interface BenchOptions {
  /** Seconds each figure is measured for. */
  seconds: number;
  /**
   * Rounds, each measuring every figure and its baseline one after the other (the query and
   * refresh figures in turns of a second, spread over the rounds).
   */
  rounds?: number;
  /** Seconds of load before a measurement, not counted (JIT, connection pools). */
  warmupSeconds: number;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  /** Gateway settings to use instead of the defaults (argon2, hashing, cache, logging). */
  gatewaySettings?: Record<string, string>;
  /** Progress lines (stderr in the CLI). */
  progress?: (line: string) => void;
}

const CONNECTIONS = 10;
/**
 * The query and refresh figures and their baselines take turns of one second each (autocannon's
 * shortest run): on a shared machine the speed of a core changes from one second to the next
 * (in scratch runs the bare server's CPU per answer went from 70 to 190 µs and back between
 * consecutive seconds), and only turns that short let both sides of a ratio see the same machine.
 */
const QUERY_TURN_SECONDS = 1;
const BARE_QUERY = JSON.stringify({ query: '{ hello }' });
const GUARDED_QUERY = JSON.stringify({ query: '{ me { id roles } }' });
// Every limit far above what the run can reach: the benchmark measures work, not refusals.
const RAISED_LIMITS = {
  LOGIN_LIMIT_EMAIL_IP: '100000000/60',
  LOGIN_LIMIT_IP: '100000000/60',
  LOGIN_LIMIT_ACCOUNT: '100000000/60',
  REGISTER_LIMIT_IP: '100000000/60',
  REFRESH_LIMIT_IP: '100000000/60',
  // All the load comes from one address: it may hold every password-hashing place.
  PASSWORD_HASH_PER_CLIENT: '10000',
  // The login loads sign the seeded users in again and again: older sessions, whose refresh
  // tokens the refresh load spends, must not end.
  MAX_SESSIONS_PER_USER: '10000',
};

const refreshBody = (token: string) =>
  JSON.stringify({
    query: 'mutation ($t: String) { refresh(refreshToken: $t) { accessToken refreshToken } }',
    variables: { t: token },
  });

const classifyBare = (status: number, body: string) => (status === 200 && body.includes('"hello":"world"') ? 'ok' : 'error');
const classifyGuarded = (status: number, body: string) =>
  status === 200 && body.startsWith('{"data":{"me":{"id":"') && !body.includes('"errors"') ? 'ok' : 'error';
const classifyRefresh = (status: number, body: string) =>
  status === 200 && body.includes('"refreshToken":"') && !body.includes('"errors"') ? 'ok' : 'error';

const guardedLoad = (url: string, sessions: Session[], seconds: number) =>
  runLoad({
    url,
    connections: CONNECTIONS,
    seconds,
    request: (i) => ({ headers: { authorization: `Bearer ${sessions[i % sessions.length]!.accessToken}` }, body: GUARDED_QUERY }),
    classify: classifyGuarded,
  });

const loginRequest = (sessions: Session[]) => (i: number) => ({
  body: loginBody(sessions[i % sessions.length]!.email, sessions[i % sessions.length]!.password),
});

/** Logins back to back on `connections` connections. */
const loginLoad = (url: string, sessions: Session[], connections: number, seconds: number) =>
  runLoad({ url, connections, seconds, request: loginRequest(sessions), classify: classifyLogin });

/**
 * A storm: `rate` logins offered per second, evenly spaced, whatever the answers, from a client
 * process of its own (bench/storm-client.ts), which `clients` holds until it has exited.
 * `started` settles when the first login is sent (or the client failed).
 */
function stormLoad(url: string, sessions: Session[], seconds: number, rate: number, clients: Set<ChildProcess>) {
  const job: StormJob = { url, seconds, rate, bodies: sessions.map((s) => loginBody(s.email, s.password)) };
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'storm-client.ts')], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  clients.add(child);
  child.stdin.on('error', () => {}); // a client that died early: its exit says why
  child.stdin.end(JSON.stringify(job));
  let stdout = '';
  let stderr = '';
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    if (stdout.startsWith('started\n')) markStarted();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const result = new Promise<LoadResult>((resolve, reject) => {
    const fail = (why: string) => reject(new Error(`the storm's client failed (${why}):\n${stderr.slice(-4000)}`));
    child.once('error', (error) => {
      clients.delete(child);
      markStarted();
      fail(error.message);
    });
    // 'close', not 'exit': by then everything it printed has been read.
    child.once('close', (code) => {
      clients.delete(child);
      markStarted();
      if (code !== 0) return fail(`exit code ${code}`);
      try {
        resolve(JSON.parse(stdout.slice('started\n'.length)) as LoadResult);
      } catch {
        fail('its result is not JSON');
      }
    });
  });
  void result.catch(() => {}); // reported where it is awaited
  return { started, result };
}

/** Refresh tokens rotate: each request takes a live one, each answer gives its successor back. */
function refreshLoad(url: string, pool: string[], seconds: number) {
  return runLoad({
    url,
    connections: CONNECTIONS,
    seconds,
    dynamic: () => {
      const token = pool.shift();
      if (!token) throw new Error('the refresh-token pool ran dry');
      return { body: refreshBody(token) };
    },
    classify: classifyRefresh,
    onBody: (body) => {
      const next = /"refreshToken":"([^"]+)"/.exec(body);
      if (next) pool.push(next[1]!);
    },
  });
}

/**
 * A load's result with the CPU used meanwhile, in cores (1 = one core busy throughout): by its
 * server (and by the server's main thread alone), by the load generator (this process) and by
 * the whole machine.
 */
type Measured = LoadResult & {
  serverCpu: number;
  serverMainThreadCpu: number;
  serverMainThreadWait: number;
  loadgenCpu: number;
  machineCpu: number;
};

const ownCpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/** Runs `load` while sampling the CPU time of the server, of this process and of the machine. */
async function measured(server: ServerProcess, load: () => Promise<LoadResult>): Promise<Measured> {
  // Each window inside the one before (machine, this process, server, its main thread, its wait),
  // so that a part is never sampled over a longer time than its whole; CPU times are counted in
  // clock ticks, the wait in nanoseconds.
  const before = {
    machine: machineBusySeconds(),
    own: ownCpuSeconds(),
    server: server.cpuSeconds(),
    main: server.mainThreadCpuSeconds(),
    wait: server.mainThreadWaitSeconds(),
  };
  const result = await load();
  const wait = server.mainThreadWaitSeconds() - before.wait;
  const main = server.mainThreadCpuSeconds() - before.main;
  const all = server.cpuSeconds() - before.server;
  const own = ownCpuSeconds() - before.own;
  const machine = machineBusySeconds() - before.machine;
  const per = (seconds: number) => seconds / result.seconds;
  return {
    ...result,
    serverCpu: per(all),
    serverMainThreadCpu: per(main),
    serverMainThreadWait: per(wait),
    loadgenCpu: per(own),
    machineCpu: per(machine),
  };
}

function mergeMeasured(runs: Measured[]): Measured {
  const merged = mergeLoads(runs);
  const average = (of: (r: Measured) => number) => runs.reduce((sum, r) => sum + of(r) * r.seconds, 0) / merged.seconds;
  return {
    ...merged,
    serverCpu: average((r) => r.serverCpu),
    serverMainThreadCpu: average((r) => r.serverMainThreadCpu),
    serverMainThreadWait: average((r) => r.serverMainThreadWait),
    loadgenCpu: average((r) => r.loadgenCpu),
    machineCpu: average((r) => r.machineCpu),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runBench(options: BenchOptions): Promise<BenchResults> {
  const say = options.progress ?? (() => {});
  const rounds = Math.max(1, options.rounds ?? 3);
  const work = mkdtempSync(path.join(tmpdir(), 'gateway-bench-'));
  const started = Date.now();
  const loadBefore = loadavg()[0]!;
  let bare: ServerProcess | undefined;
  let gateway: ServerProcess | undefined;
  const stormClients = new Set<ChildProcess>();
  const database = await createBenchDatabase(options.databaseUrl, path.join(work, 'data'));
  try {
    say('building the gateway (npm run build) and the bare baseline');
    const scripts = await buildServers();
    say('starting the bare baseline and the gateway');
    const [barePort, port] = [await freePort(), await freePort()];
    const settings: Record<string, string> = {
      NODE_ENV: database.kind === 'postgres' ? 'production' : 'test',
      PORT: String(port),
      HOST: '127.0.0.1',
      JWT_ISSUER: `http://127.0.0.1:${port}`,
      ENCRYPTION_KEYS: generateEncryptionKeyEntry('bench'),
      ...database.env,
      ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : { SINGLE_INSTANCE: 'true' }),
      RATE_LIMIT_PREFIX: `bench:${randomBytes(6).toString('hex')}`,
      ...RAISED_LIMITS,
      ...options.gatewaySettings,
    };
    const config = loadConfig(settings);
    const { concurrency, queue } = config.passwordHashing;
    // The baseline: a bare Apollo server on the same HTTP layer. It stays up (idle) so that its
    // rounds can alternate with the gateway's: drift on a shared machine hits both alike.
    const starting = await Promise.allSettled([
      startServer({
        script: scripts.bare,
        env: childEnv({ BENCH_BARE_PORT: String(barePort) }),
        port: barePort,
        readyPath: '/ready',
        logFile: path.join(work, 'bare.log'),
      }),
      startServer({
        // As production runs it (npm run start:prod).
        script: scripts.gateway,
        nodeArgs: scripts.gatewayNodeArgs,
        env: childEnv(settings),
        port,
        readyPath: '/readyz',
        logFile: path.join(work, 'gateway.log'),
      }),
    ]);
    if (starting[0].status === 'fulfilled') bare = starting[0].value;
    if (starting[1].status === 'fulfilled') gateway = starting[1].value;
    const failed = starting.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    if (!bare || !gateway) throw new Error('unreachable');
    const url = gateway.url;
    const capacity = concurrency + queue;
    say('seeding users and sessions');
    // A refresh load that stops abandons its in-flight rotations (and their successors): every
    // refresh load may lose one token per connection, so there are enough for all of them.
    const users = Math.max(CONNECTIONS, 2 * capacity);
    const slice = options.seconds / rounds;
    // About `seconds` of turns in all (at least one per round), spread over the rounds (7, 6
    // and 7 of 20).
    const turns = Math.max(rounds, Math.round(options.seconds / QUERY_TURN_SECONDS));
    const turnsInRound = (round: number) => Math.round((turns * round) / rounds) - Math.round((turns * (round - 1)) / rounds);
    const sessionsPerUser = Math.ceil((CONNECTIONS * (turns + 2)) / users);
    const sessions = await seedSessions(url, { users, sessionsPerUser, parallel: capacity });
    const refreshPool = sessions.map((s) => s.refreshToken);

    // The login ceiling: argon2 alone at the gateway's parameters and concurrency, while both
    // servers are idle.
    // Logins still in the gateway when their load stops hold their places: let them finish.
    let settleMs = 1000;
    const settle = () => sleep(settleMs);
    const bareLoad = (seconds: number) =>
      runLoad({ url: bare!.url, connections: CONNECTIONS, seconds, request: () => ({ body: BARE_QUERY }), classify: classifyBare });
    // The guarded load's very requests (the bearer header too), answered by the bare baseline,
    // which checks no token: what the query itself costs.
    const shapeLoad = (seconds: number) => guardedLoad(bare!.url, sessions, seconds);
    say('warm-up');
    await bareLoad(options.warmupSeconds);
    await shapeLoad(options.warmupSeconds);
    await guardedLoad(url, sessions, options.warmupSeconds);
    await refreshLoad(url, refreshPool, options.warmupSeconds);
    const warmLogins = await loginLoad(url, sessions, capacity, Math.min(options.warmupSeconds, 2));
    await settle();
    // The storm's paths too (a shed is code that nothing above ran), as the rounds run it.
    const warmSeconds = Math.min(options.warmupSeconds, 2);
    await Promise.all([
      stormLoad(url, sessions, warmSeconds, Math.ceil(2 * Math.max(1, warmLogins.okPerSecond)), stormClients).result,
      guardedLoad(url, sessions, warmSeconds),
    ]);
    await settle();

    // Every figure and its baseline in alternating slices, so that drift in whatever else runs
    // on the machine hits both alike.
    const runs = { bare: [] as Measured[], shape: [] as Measured[], guarded: [] as Measured[], refresh: [] as Measured[], login: [] as Measured[] };
    const bounds: Array<Awaited<ReturnType<typeof measureArgon2Bound>>> = [];
    const storm = { guarded: [] as Measured[], logins: [] as LoadResult[] };
    let turnsTaken = 0;
    for (let round = 1; round <= rounds; round++) {
      say(`round ${round} of ${rounds}: bare baseline (both queries), guarded query, refresh, argon2 bound, login, login storm`);
      const queryLoads: Array<() => Promise<void>> = [
        async () => void runs.bare.push(await measured(bare!, () => bareLoad(QUERY_TURN_SECONDS))),
        async () => void runs.shape.push(await measured(bare!, () => shapeLoad(QUERY_TURN_SECONDS))),
        async () => void runs.guarded.push(await measured(gateway!, () => guardedLoad(url, sessions, QUERY_TURN_SECONDS))),
        async () => void runs.refresh.push(await measured(gateway!, () => refreshLoad(url, refreshPool, QUERY_TURN_SECONDS))),
      ];
      for (let turn = 0; turn < turnsInRound(round); turn++) {
        // Each turn starts with the next load, so that none always follows the same other one.
        const first = turnsTaken++;
        for (let i = 0; i < queryLoads.length; i++) await queryLoads[(first + i) % queryLoads.length]!();
      }
      // The login ceiling: argon2 alone at the gateway's parameters and concurrency, here, while
      // both servers are idle.
      const bound = await measureArgon2Bound({ ...config.argon2, concurrency, seconds: slice });
      bounds.push(bound);
      settleMs = Math.max(500, (2000 * capacity) / bound.hashesPerSecond);
      // Exactly as many logins in flight as the gateway admits: hashing saturated, nothing shed.
      const login = await measured(gateway, () => loginLoad(url, sessions, capacity, slice));
      runs.login.push(login);
      await settle();
      // The storm: logins offered at twice the rate hashing can take (the bound, or what the
      // gateway just did if more: on a busy machine the two are measured in different moments),
      // plus enough to fill the admission queue within the storm (which a short storm on a busy
      // machine would otherwise never overflow), while the guarded queries run.
      const stormRate = Math.ceil(2 * Math.max(bound.hashesPerSecond, login.okPerSecond) + capacity / (slice + 1));
      const stormLogins = stormLoad(url, sessions, slice + 1, stormRate, stormClients);
      await stormLogins.started;
      await sleep(500);
      storm.guarded.push(await measured(gateway, () => guardedLoad(url, sessions, slice)));
      storm.logins.push(await stormLogins.result);
      await settle();
    }
    const bareResult = mergeMeasured(runs.bare);
    const shape = mergeMeasured(runs.shape);
    const guarded = mergeMeasured(runs.guarded);
    const refresh = mergeMeasured(runs.refresh);
    const login = mergeMeasured(runs.login);
    const stormGuarded = mergeMeasured(storm.guarded);
    const stormLogin = mergeLoads(storm.logins);
    const argon2 = {
      hashesPerSecond: bounds.reduce((sum, b) => sum + b.hashes, 0) / bounds.reduce((sum, b) => sum + b.seconds, 0),
    };
    const barePeakRss = bare.peakRss();
    const gatewayPeakRss = gateway.peakRss();

    const cpu = cpus();
    const results: BenchResults = {
      generatedAt: new Date().toISOString(),
      durationSeconds: 0,
      machine: {
        cpuModel: cpu[0]?.model.trim() ?? 'unknown',
        cores: cpu.length,
        memoryMiB: Math.round(totalmem() / 2 ** 20),
        node: process.version,
        os: `${process.platform} ${release()}`,
        loadAverage: { before: loadBefore, after: loadavg()[0]! },
      },
      settings: {
        database: database.kind === 'postgres' ? 'PostgreSQL (DATABASE_URL)' : 'embedded PGlite',
        rateLimits: options.redisUrl ? 'Redis (REDIS_URL)' : 'in memory',
        seconds: options.seconds,
        rounds,
        queryTurns: { count: turns, seconds: QUERY_TURN_SECONDS },
        warmupSeconds: options.warmupSeconds,
        connections: { query: CONNECTIONS, login: capacity, refresh: CONNECTIONS },
        gatewayNode: scripts.gatewayNodeArgs.join(' '),
        gateway: describeSettings(settings, config),
      },
      figures: {
        guarded: {
          gateway: summary(guarded),
          baseline: summary(bareResult),
          ratio: guarded.okPerSecond / bareResult.okPerSecond,
          queryShape: { bare: summary(shape), ratio: shape.okPerSecond / bareResult.okPerSecond },
        },
        login: {
          gateway: summary(login),
          baseline: { hashesPerSecond: argon2.hashesPerSecond, concurrency },
          ratio: login.okPerSecond / argon2.hashesPerSecond,
        },
        refresh: { gateway: summary(refresh), baseline: summary(bareResult), ratio: refresh.okPerSecond / bareResult.okPerSecond },
        storm: {
          guarded: summary(stormGuarded),
          baseline: summary(guarded),
          ratio: stormGuarded.okPerSecond / guarded.okPerSecond,
          logins: {
            admittedPerSecond: stormLogin.okPerSecond,
            shedPerSecond: ((stormLogin.outcomes.shed ?? 0) + (stormLogin.outcomes.rate_limited ?? 0)) / stormLogin.seconds,
            admittedLatencyMs: stormLogin.latency.ok ?? null,
            shedLatencyMs: stormLogin.latency.shed ?? stormLogin.latency.rate_limited ?? null,
            outcomes: stormLogin.outcomes,
            offeredPerSecond: (stormLogin.responses + stormLogin.transportErrors) / stormLogin.seconds,
            peakInFlight: stormLogin.peakInFlight ?? Number.NaN,
          },
        },
        memory: { gatewayPeakRssMiB: gatewayPeakRss / 2 ** 20, baselinePeakRssMiB: barePeakRss / 2 ** 20 },
      },
      targets: [],
    };
    results.targets = evaluateTargets(results);
    say('stopping');
    results.durationSeconds = Math.round((Date.now() - started) / 1000);
    return results;
  } finally {
    for (const client of stormClients) client.kill('SIGKILL');
    await bare?.stop();
    await gateway?.stop();
    await database.drop();
    rmSync(work, { recursive: true, force: true });
  }
}

function summary(result: Measured) {
  const ok = result.latency.ok;
  return {
    perSecond: result.okPerSecond,
    p50Ms: ok?.p50 ?? Number.NaN,
    p99Ms: ok?.p99 ?? Number.NaN,
    responses: result.responses,
    failed: result.responses - (result.outcomes.ok ?? 0) + result.transportErrors,
    serverCpu: result.serverCpu,
    serverMainThreadCpu: result.serverMainThreadCpu,
    serverMainThreadWait: result.serverMainThreadWait,
    loadgenCpu: result.loadgenCpu,
    machineCpu: result.machineCpu,
  };
}

/** The settings that shape the figures; never a secret or a URL with credentials. */
function describeSettings(settings: Record<string, string>, config: ReturnType<typeof loadConfig>) {
  return {
    NODE_ENV: settings.NODE_ENV!,
    LOG_LEVEL: config.logLevel,
    JWT_ALG: config.jwt.alg,
    ARGON2_MEMORY_KIB: String(config.argon2.memoryKib),
    ARGON2_TIME_COST: String(config.argon2.timeCost),
    ARGON2_PARALLELISM: String(config.argon2.parallelism),
    PASSWORD_HASH_CONCURRENCY: String(config.passwordHashing.concurrency),
    PASSWORD_HASH_QUEUE: String(config.passwordHashing.queue),
    PASSWORD_HASH_NICE: String(config.passwordHashing.nice),
    UV_THREADPOOL_SIZE: String(threadPoolSizeFor(settings) ?? settings.UV_THREADPOOL_SIZE ?? process.env.UV_THREADPOOL_SIZE),
    ACCESS_TOKEN_CACHE_SIZE: String(config.accessTokenCacheSize),
    ...(config.databaseUrl ? { DATABASE_POOL_SIZE: String(config.databasePoolSize) } : {}),
    ...RAISED_LIMITS,
  };
}
