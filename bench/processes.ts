/**
 * The servers under measurement run as child processes of their own, so that their CPU time and
 * memory are theirs alone while the load generator runs here. They run as built JavaScript, as
 * in production (`buildServers`); a TypeScript script is started as `node --import tsx <script>`
 * (no tsx wrapper process). Either way the pid we hold is the server's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { buildGateway, NODE_BUNDLE } from '../src/build/build-gateway';
import { SETTING_NAMES } from '../src/config';

export const ROOT = path.resolve(import.meta.dirname, '..');

/**
 * The arguments an npm script gives node (every script here runs `node ...`; a server's runs
 * `exec node ...`, so that the shell npm starts it in becomes node, and the signal npm passes
 * on reaches the server), from ROOT.
 */
export function nodeScriptArgs(name: string): string[] {
  const scripts = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const words = scripts[name]!.split(/\s+/);
  if (words[0] === 'exec') words.shift();
  const [node, ...args] = words;
  if (node !== 'node') throw new Error(`${name} is expected to run node`);
  return args;
}

/** What `npm run start:prod` runs: node's options, then the built launcher (from ROOT). */
export const startProdArgs = () => nodeScriptArgs('start:prod');

/**
 * The gateway's production build (as `npm run build` makes it, but in dist/bench/, so that a
 * run never rewrites dist/ under another process) with the options `npm run start:prod` gives
 * node, and the baseline's build beside it.
 */
export async function buildServers(): Promise<{ gateway: string; gatewayNodeArgs: string[]; bare: string }> {
  const outDir = path.join(ROOT, 'dist', 'bench');
  const { launcher } = await buildGateway(outDir);
  const { build } = await import('esbuild');
  const bare = path.join(outDir, 'bare-server.js');
  await build({ ...NODE_BUNDLE, entryPoints: [path.join(ROOT, 'bench/bare-server.ts')], format: 'esm', packages: 'external', outfile: bare });
  return { gateway: launcher, gatewayNodeArgs: startProdArgs().slice(0, -1), bare };
}

/** Ports this process handed out already: the kernel may offer a closed port again, and two servers cannot share one. */
const handedOut = new Set<number>();

/** A port nobody listens on right now (loopback only), never one this process handed out before. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await unusedPort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/**
 * Below the kernel's ephemeral range where it leaves room: a port the kernel picks for a
 * listener (port 0) comes from that range, and so does the local port of every outgoing
 * connection, so between the probe's close and the server's listen another process's connection
 * (to Postgres, Redis, a gateway) could take it (EADDRINUSE). Ports below it are handed out only
 * to listeners that ask for them.
 */
async function unusedPort(): Promise<number> {
  const low = ephemeralRangeStart();
  if (low - PORT_FLOOR >= 1000) {
    for (let tries = 0; tries < 100; tries++) {
      const port = PORT_FLOOR + Math.floor(Math.random() * (low - PORT_FLOOR));
      if ((await listenOnce(port)) !== undefined) return port;
    }
  }
  return (await listenOnce(0))!;
}

const PORT_FLOOR = 10_000;

function ephemeralRangeStart() {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768; // Linux's default, and close to other systems' (49152 on most)
  }
}

/** Listens on `port` (0: any) on loopback and closes again: the port it had, or undefined if taken. */
function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const got = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(got));
    });
  });
}

/** This environment without any gateway setting, plus `settings`: a child sees only what we give it. */
export function childEnv(settings: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of SETTING_NAMES) delete env[name];
  // vitest marks its own process; a child started from the smoke test is a plain server.
  for (const name of Object.keys(env)) if (name.startsWith('VITEST')) delete env[name];
  return { ...env, ...settings };
}

export interface ServerProcess {
  pid: number;
  url: string;
  /** CPU seconds (user + system) the process has used so far, all its threads. */
  cpuSeconds(): number;
  /** The same for its main thread alone: the event loop, where a server runs its JavaScript. */
  mainThreadCpuSeconds(): number;
  /**
   * Seconds its main thread has spent ready to run but waiting for a core (the scheduler's own
   * count, not sampled); NaN where the kernel does not keep it.
   */
  mainThreadWaitSeconds(): number;
  /** Peak resident set size so far (the kernel's high-water mark), in bytes. */
  peakRss(): number;
  log(): string;
  stop(): Promise<void>;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** `path`: /proc/<pid>/stat for a process, /proc/<pid>/task/<tid>/stat for one of its threads. */
function readCpuSeconds(path: string) {
  const stat = readFileSync(path, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/**
 * CPU seconds every core of the machine has spent busy so far (user, nice, system, interrupts;
 * not idle, I/O wait or time the hypervisor took), whatever process ran. The kernel samples
 * each core's state at every clock tick: exact over many seconds, roughly so over one.
 */
export function machineBusySeconds(): number {
  const [user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq!) / CLOCK_TICKS;
}

/**
 * The second field of /proc/<pid>/task/<tid>/schedstat: nanoseconds spent runnable, waiting for
 * a core. NaN where the kernel keeps no such count (no file, or nothing counted: a running
 * thread has always run some time).
 */
function readWaitSeconds(path: string) {
  try {
    const [run, wait] = readFileSync(path, 'utf8').trim().split(' ').map(Number);
    return run! > 0 ? wait! / 1e9 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

function readPeakRss(pid: number) {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

/**
 * Starts `script` with `env`, its output into `logFile` (a file, not a pipe: a slow reader must
 * not slow the server), and waits until `readyPath` answers 200.
 */
export async function startServer(options: {
  script: string;
  env: NodeJS.ProcessEnv;
  port: number;
  readyPath: string;
  logFile: string;
  timeoutMs?: number;
  /** Extra node options, e.g. --cpu-prof when looking into a figure. */
  nodeArgs?: string[];
}): Promise<ServerProcess> {
  const fd = openSync(options.logFile, 'w');
  let child: ChildProcess;
  try {
    const loader = options.script.endsWith('.ts') ? ['--import', 'tsx'] : [];
    child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...loader, options.script], {
      cwd: ROOT,
      env: options.env,
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let dead = false;
  void exited.then(() => (dead = true));
  const url = `http://127.0.0.1:${options.port}`;
  const log = () => readFileSync(options.logFile, 'utf8');
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (dead) throw new Error(`${options.script} exited before it was ready:\n${log().slice(-4000)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.script} was not ready in time:\n${log().slice(-4000)}`);
    }
    const ok = await fetch(`${url}${options.readyPath}`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const pid = child.pid!;
  return {
    pid,
    url,
    cpuSeconds: () => readCpuSeconds(`/proc/${pid}/stat`),
    // A process's main thread has the process's id.
    mainThreadCpuSeconds: () => readCpuSeconds(`/proc/${pid}/task/${pid}/stat`),
    mainThreadWaitSeconds: () => readWaitSeconds(`/proc/${pid}/task/${pid}/schedstat`),
    peakRss: () => readPeakRss(pid),
    log,
    async stop() {
      if (dead) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
