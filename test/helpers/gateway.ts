/**
 * Starts the real app over real HTTP on a free loopback port, on its own database (a clone of
 * the migrated template on real Postgres, or in-memory PGlite), with a movable clock and the
 * log lines captured so tests can check what is (not) logged.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { FastifyInstance } from 'fastify';
import { print } from 'graphql';
import { inject } from 'vitest';
import { createApp } from '../../src/app';
import { createSubgraphApp } from '../../src/http/subgraph-app';
import { createMetricsApp, GatewayMetrics } from '../../src/http/metrics';
import { openCounters, openRevocations } from '../../src/bootstrap';
import { compose, startKeyReloader, startRevocationCatchUp } from '../../src/compose';
import { loadConfig, type Config } from '../../src/config';
import type { AuthDeps } from '../../src/domain/auth';
import type { CounterStore } from '../../src/domain/throttle';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { createLogger } from '../../src/logger';
import { openEmbedded, openPostgres, type Database } from '../../src/storage/postgres';
import { embeddedTemplate } from './embedded-template';
import { adminUrl, databaseUrlFor } from './postgres-urls';
import { TestClock } from './test-clock';

export interface GqlResult<T> {
  status: number;
  data: T | null | undefined;
  errors: Array<{ message: string; extensions: { code: string; [k: string]: unknown }; path?: unknown[] }> | undefined;
  headers: Headers;
}

export interface RequestOptions {
  token?: string;
  cookie?: string;
  headers?: Record<string, string>;
}

export interface TestDatabase {
  database: Database;
  drop(): Promise<void>;
}

/** The migrated tarball (embedded-template.ts), read once per test file (a load never changes a Blob). */
let templateDump: Blob | undefined;

/** A fresh, migrated database for one test file (or one gateway). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const template = inject('templateDatabase');
  const base = process.env.DATABASE_URL;
  if (!template || !base) {
    // A copy of a migrated template, as on PostgreSQL (initdb and the migrations take seconds).
    templateDump ??= new Blob([readFileSync((await embeddedTemplate()).dump)]);
    const database = await openEmbedded(undefined, { loadDataDir: templateDump });
    return { database, drop: () => database.close() };
  }
  const postgres = (await import('postgres')).default;
  const admin = postgres(adminUrl(base), { max: 1, onnotice: () => {} });
  const name = `gateway_test_${randomBytes(6).toString('hex')}`;
  await admin.unsafe(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
  const database = await openPostgres(databaseUrlFor(base, name), { max: 5 });
  return {
    database,
    drop: async () => {
      await database.close();
      await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    },
  };
}

export interface TestGateway {
  url: string;
  /** The Federation subgraph listener's base URL, when SUBGRAPH_PORT was given. */
  subgraphUrl: string | undefined;
  /** The Prometheus listener's /metrics URL, when METRICS_PORT was given. */
  metricsUrl: string | undefined;
  config: Config;
  clock: TestClock;
  deps: AuthDeps;
  database: Database;
  logs: string[];
  /** The Fastify app behind `url`, for `inject` (a request from an address no loopback socket can have). */
  app: FastifyInstance;
  gql<TData, TVars>(
    document: TypedDocumentNode<TData, TVars>,
    variables?: TVars,
    options?: RequestOptions,
  ): Promise<GqlResult<TData>>;
  post(body: unknown, options?: RequestOptions): Promise<Response>;
  /** What the periodic reload does (every KEY_RELOAD_SECONDS), on demand. */
  reloadKeys(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Tests that are not about rate limits make many requests from one address: they get limits
 * (and a password-hashing queue) large enough never to interfere, their own counter namespace,
 * and Redis when REDIS_URL is set. Throttle tests override these through `env`.
 */
export function rateLimitDefaults(): Record<string, string> {
  return {
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : { SINGLE_INSTANCE: 'true' }),
    RATE_LIMIT_PREFIX: `test:${randomBytes(6).toString('hex')}`,
    LOGIN_LIMIT_EMAIL_IP: '100000/900',
    LOGIN_LIMIT_IP: '100000/900',
    LOGIN_LIMIT_ACCOUNT: '100000/900',
    REGISTER_LIMIT_IP: '100000/900',
    REFRESH_LIMIT_IP: '100000/60',
    // Bursts of logins queue for their hash instead of being shed (SERVICE_UNAVAILABLE); the
    // admission tests set their own.
    PASSWORD_HASH_QUEUE: '10000',
  };
}

export interface StartOptions {
  /** Settings over the defaults; undefined unsets one (REDIS_URL: undefined, say). */
  env?: Record<string, string | undefined>;
  /** Share an existing database (e.g. two gateways, one store); it is not dropped on close. */
  database?: Database;
  encryptionKeys?: string;
  /** Wraps the real counter store (memory or Redis), e.g. to record what reaches it; never replaces it. */
  wrapCounters?: (store: CounterStore) => CounterStore;
}

export async function startGateway(options: StartOptions = {}): Promise<TestGateway> {
  const owned = options.database ? undefined : await createTestDatabase();
  const database = options.database ?? owned!.database;
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    ENCRYPTION_KEYS: options.encryptionKeys ?? generateEncryptionKeyEntry('test'),
    ...rateLimitDefaults(),
    ...options.env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const logger = createLogger('debug', sink);
  const clock = new TestClock();
  const counters = openCounters(config, logger);
  if (counters.redis && !(await counters.redis.ready(5000))) throw new Error('REDIS_URL is set but Redis is not reachable');
  const revocations = openRevocations(config, counters.redis, logger, clock);
  await revocations.started();
  const store = options.wrapCounters ? options.wrapCounters(counters.store) : counters.store;
  const metrics = config.metrics && new GatewayMetrics();
  const { deps, reloadKeys } = await compose({ config, database, encryptionKeys: config.encryptionKeys!, counters: store, revocations, logger, clock, metrics });
  const stopKeyReloader = startKeyReloader(reloadKeys, config.keys.reloadSeconds, logger);
  const stopRevocationCatchUp = await startRevocationCatchUp(deps, config, logger);
  const app = await createApp({ config, deps, logger, pingDatabase: database.ping, rateLimitMode: counters.mode, metrics });
  await app.listen({ port: config.port, host: '127.0.0.1' });
  const portOf = (server: typeof app.server) => {
    const address = server.address();
    return typeof address === 'object' && address ? address.port : 0;
  };
  const url = `http://127.0.0.1:${portOf(app.server)}`;
  const subgraph = config.subgraph && (await createSubgraphApp({ config, deps, logger, settings: config.subgraph, metrics }));
  await subgraph?.listen({ port: config.subgraph!.port, host: '127.0.0.1' });
  const subgraphUrl = subgraph && `http://127.0.0.1:${portOf(subgraph.server)}`;
  metrics?.watch(deps, counters.mode);
  const metricsApp = metrics && (await createMetricsApp(metrics, config, logger));
  await metricsApp?.listen({ port: config.metrics!.port, host: '127.0.0.1' });
  const metricsUrl = metricsApp && `http://127.0.0.1:${portOf(metricsApp.server)}/metrics`;

  const post = (body: unknown, opts: RequestOptions = {}) =>
    fetch(`${url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(opts.token && { authorization: `Bearer ${opts.token}` }),
        ...(opts.cookie && { cookie: opts.cookie }),
        ...opts.headers,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  return {
    url,
    subgraphUrl,
    metricsUrl,
    config,
    clock,
    deps,
    database,
    logs,
    app,
    post,
    async gql(document, variables, opts) {
      const response = await post({ query: print(document), variables }, opts);
      const json = (await response.json()) as { data?: never; errors?: never };
      return { status: response.status, data: json.data, errors: json.errors, headers: response.headers };
    },
    reloadKeys,
    async close() {
      stopKeyReloader();
      stopRevocationCatchUp();
      await app.close();
      await subgraph?.close();
      await metricsApp?.close();
      await revocations.close();
      await counters.redis?.close();
      await owned?.drop();
    },
  };
}

/**
 * Runs `body` with a gateway on a named database (createNamedDatabase), opened for it and closed
 * after: on PGlite only one process may hold DATA_DIR, so the database is free again before any
 * CLI or server child runs.
 */
export async function withGatewayOn<T>(
  named: { open(): Promise<Database> },
  encryptionKeys: string,
  body: (gw: TestGateway, db: Database['db']) => Promise<T>,
): Promise<T> {
  const database = await named.open();
  try {
    const gw = await startGateway({ database, encryptionKeys });
    try {
      return await body(gw, database.db);
    } finally {
      await gw.close();
    }
  } finally {
    await database.close();
  }
}
