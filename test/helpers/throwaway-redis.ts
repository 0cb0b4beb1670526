/**
 * A redis-server of the test's own, on a free port, that the test may stop and start again on
 * the same port (the shared Redis on 6379 is never touched). Nothing is persisted.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './processes';

/**
 * The redis-server binary on PATH, or undefined: tests that need one then skip, except under CI,
 * where a missing one fails the file (as a missing Chromium or PgBouncer does).
 */
export function redisServerBinary(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const binary = found.status === 0 && found.stdout.trim() ? found.stdout.trim() : undefined;
  if (!binary && process.env.CI) throw new Error('redis-server is not on PATH: CI runs the tests that start a Redis of their own');
  return binary;
}

export interface ThrowawayRedis {
  url: string;
  port: number;
  /** Starts (or starts again) on the same port; resolves once it answers PING. No-op while it runs. */
  start(): Promise<void>;
  /** Stops it (SIGTERM) and waits for the process to exit. */
  stop(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open but nothing answers. */
  pause(): void;
  /** Thaws it (SIGCONT). */
  resume(): void;
  /** A plain client for looking at keys; the caller quits it. */
  client(): Redis;
}

/** `extraArgs`: more redis-server options (`--cluster-enabled yes …`, say). */
export async function throwawayRedis(binary: string, extraArgs: string[] = []): Promise<ThrowawayRedis> {
  const port = await freePort();
  let server: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;

  const answers = async () => {
    const probe = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await probe.connect();
      return (await probe.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      probe.disconnect();
    }
  };

  return {
    url,
    port,
    async start() {
      if (server && server.exitCode === null && server.signalCode === null) return;
      const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs], {
        stdio: 'ignore',
      });
      server = child;
      for (let waited = 0; !(await answers()); waited += 50) {
        if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${child.exitCode}`);
        if (waited > 5000) throw new Error(`redis-server on port ${port} did not answer within 5 s`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      const child = server;
      server = undefined;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
    pause: () => void server?.kill('SIGSTOP'),
    resume: () => void server?.kill('SIGCONT'),
    client: () => new Redis(url, { maxRetriesPerRequest: 1 }),
  };
}
