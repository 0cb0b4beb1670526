/**
 * Real processes for the operations tests: TypeScript children run as the npm scripts run them
 * (`node --import tsx <script>`: one process, the script's own), with a clean environment, free
 * ports, and databases the test names itself (so it can take them down or pass their URL to a
 * child).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { expect, inject } from 'vitest';
import { childEnv, freePort, nodeScriptArgs } from '../../bench/processes';
import { openEmbedded, openPostgres, type Database } from '../../src/storage/postgres';
import { embeddedTemplate } from './embedded-template';
import type { GqlResult, RequestOptions } from './gateway';
import { adminUrl, databaseUrlFor } from './postgres-urls';

export const ROOT = path.resolve(import.meta.dirname, '../..');

// A child gets exactly what the test gives it (no setting of this process), on a free loopback port.
export { childEnv, freePort, startProdArgs } from '../../bench/processes';
export { buildGateway } from '../../src/build/build-gateway';

/** Whether a process with this pid exists (signal 0 checks without signalling). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const tempDir = (prefix: string) => mkdtempSync(path.join(tmpdir(), `${prefix}-`));

/**
 * A new DATA_DIR holding a copy of the migrated database made once per run (no keys file, no
 * lock): what `npm run db:migrate` leaves in an empty DATA_DIR, for the price of a copy instead
 * of initdb's seconds of CPU. Not for tests of a first start on an empty DATA_DIR.
 */
export async function migratedDataDir(prefix: string): Promise<string> {
  const { dataDir } = await embeddedTemplate();
  const dir = tempDir(prefix);
  cpSync(path.join(dataDir, 'pgdata'), path.join(dir, 'pgdata'), { recursive: true });
  return dir;
}

export interface Child {
  process: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal) once its output is read. */
  exited: Promise<number | null>;
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** SIGKILL to the child and every process it started (a signal to the child alone would leave those running). */
  killAll(): void;
}

/** Runs `node --import tsx <script> ...args` from the project root. */
export function spawnTsx(script: string, args: string[], env: NodeJS.ProcessEnv): Child {
  return spawnCommand(process.execPath, ['--import', 'tsx', script, ...args], env);
}

/** Runs what `npm run <name>` runs (node and its arguments, without npm and a shell) from the project root. */
export function spawnScript(name: string, env: NodeJS.ProcessEnv): Child {
  return spawnCommand(process.execPath, nodeScriptArgs(name), env);
}

/** Runs `command ...args` from the project root, its output kept for the test. */
export function spawnCommand(command: string, args: string[], env: NodeJS.ProcessEnv): Child {
  // A process group of its own, so that killAll reaches whatever the command starts.
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (chunk) => {
    out += String(chunk);
    for (const w of waiters) w();
  });
  child.stderr!.on('data', (chunk) => (err += String(chunk)));
  // 'exit' can come before the last output is read: wait for both streams to end too (not for
  // ever: a process the child started may hold them open).
  const ended = (stream: NodeJS.ReadableStream & { readableEnded: boolean }) =>
    stream.readableEnded ? Promise.resolve() : new Promise<void>((resolve) => stream.once('end', resolve));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      const timer = setTimeout(() => resolve(code), 2_000);
      void Promise.all([ended(child.stdout!), ended(child.stderr!)]).then(() => {
        clearTimeout(timer);
        resolve(code);
      });
    }),
  );
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    exited,
    killAll() {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the group is gone already
      }
    },
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(out);
          if (!match) return;
          done();
          resolve(match);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${pattern} within ${timeoutMs} ms; stdout: ${out}\nstderr: ${err}`));
        }, timeoutMs);
        const died = () => {
          done();
          reject(new Error(`exited before ${pattern}; stdout: ${out}\nstderr: ${err}`));
        };
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', died);
        };
        waiters.add(check);
        child.once('exit', died);
        check();
      });
    },
  };
}

/**
 * Starts the server (src/main.ts) with `settings` on a free port, expects it ready with /readyz 200,
 * and stops it with SIGTERM, expecting exit 0 (killed, whatever happens, when it does not).
 */
export async function expectServesAndStops(settings: Record<string, string>, timeoutMs = 30_000) {
  const server = spawnTsx('src/main.ts', [], childEnv({ ...settings, PORT: String(await freePort()) }));
  try {
    const [, url] = await server.waitFor(/ready at (http:\/\/\S+)/, timeoutMs);
    expect((await fetch(url!.replace('/graphql', '/readyz'))).status).toBe(200);
    server.process.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  } finally {
    server.killAll();
  }
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The audit lines (JSON on stderr) an admin command wrote. */
export const auditLinesOf = (run: RunResult) =>
  run.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.audit === true);

/** Runs a tsx script to completion. */
export async function runTsx(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  const child = spawnTsx(script, args, env);
  const code = await child.exited;
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

/** A typed GraphQL request to a gateway that runs in another process. */
export async function gqlAt<TData, TVars>(
  url: string,
  document: TypedDocumentNode<TData, TVars>,
  variables?: TVars,
  options: RequestOptions = {},
): Promise<GqlResult<TData>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.token && { authorization: `Bearer ${options.token}` }),
      ...options.headers,
    },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const json = (await response.json()) as { data?: never; errors?: never };
  return { status: response.status, data: json.data, errors: json.errors, headers: response.headers };
}

/**
 * A database the test knows by name: on real Postgres (DATABASE_URL set) a new database, empty
 * or cloned from the migrated template, that a child reaches through `env`; on PGlite a
 * DATA_DIR, which only one process may have open at a time (hence `open` per use).
 */
export interface NamedDatabase {
  kind: 'postgres' | 'embedded';
  /** Postgres only: the database name. */
  name: string | undefined;
  /** The settings a child process needs to reach it. */
  env: Record<string, string>;
  open(): Promise<Database>;
  /** Runs SQL as a superuser on the server's maintenance database (Postgres only). */
  admin(query: string): Promise<unknown>;
  drop(): Promise<void>;
}

export async function createNamedDatabase(options: { migrated: boolean }): Promise<NamedDatabase> {
  const base = process.env.DATABASE_URL;
  if (!base) {
    const dataDir = options.migrated ? await migratedDataDir('gateway-data') : tempDir('gateway-data');
    return {
      kind: 'embedded',
      name: undefined,
      env: { DATA_DIR: dataDir },
      open: () => openEmbedded(dataDir),
      admin: () => Promise.reject(new Error('no admin connection on PGlite')),
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const postgres = (await import('postgres')).default;
  const admin = postgres(adminUrl(base), { max: 1, onnotice: () => {} });
  const name = `gateway_ops_${randomBytes(6).toString('hex')}`;
  const template = options.migrated ? inject('templateDatabase') : null;
  await admin.unsafe(`CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template}"` : ''}`);
  const url = databaseUrlFor(base, name);
  return {
    kind: 'postgres',
    name,
    env: { DATABASE_URL: url },
    open: () => openPostgres(url, { max: 5 }),
    admin: (query) => admin.unsafe(query),
    drop: async () => {
      await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    },
  };
}
