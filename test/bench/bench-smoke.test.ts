// Rule: `npm run bench` runs end to end (baseline server, gateway child, seeding, every load) and writes results.json and RESULTS.md where it is told, with all five figures and their baselines as numbers, and where each closed-loop figure's CPU went.
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { BenchResults } from '../../bench/report';
import { childEnv, ROOT, runTsx, tempDir } from '../helpers/processes';

const out = tempDir('gateway-bench-smoke');
afterAll(() => rmSync(out, { recursive: true, force: true }));

const committed = path.join(ROOT, 'bench', 'results.json');
const committedStamp = () => (existsSync(committed) ? statSync(committed).mtimeMs : null);
const stampBefore = committedStamp();

const isNumber = (value: unknown) => typeof value === 'number' && Number.isFinite(value);
// Whether this kernel keeps per-thread scheduler statistics (where the event loop's wait comes from).
const schedstat = existsSync(`/proc/${process.pid}/task/${process.pid}/schedstat`);

it('measures every figure against its baseline with tiny durations', { timeout: 120_000 }, async () => {
  const env = childEnv({
    ...(process.env.DATABASE_URL && { DATABASE_URL: process.env.DATABASE_URL }),
    ...(process.env.REDIS_URL && { REDIS_URL: process.env.REDIS_URL }),
    BENCH_SECONDS: '1',
    BENCH_WARMUP_SECONDS: '0.3',
    BENCH_ROUNDS: '1',
    BENCH_OUT_DIR: out,
  });
  const run = await runTsx('bench/run.ts', [], env);
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout).toContain('1. guarded query');

  const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as BenchResults;
  const { guarded, login, refresh, storm, memory } = results.figures;
  const figures = [
    guarded.gateway.perSecond,
    guarded.gateway.p50Ms,
    guarded.gateway.p99Ms,
    guarded.baseline.perSecond,
    guarded.baseline.p99Ms,
    guarded.ratio,
    login.gateway.perSecond,
    login.baseline.hashesPerSecond,
    login.ratio,
    refresh.gateway.perSecond,
    refresh.gateway.p99Ms,
    refresh.baseline.perSecond,
    refresh.ratio,
    storm.guarded.perSecond,
    storm.guarded.p99Ms,
    storm.baseline.perSecond,
    storm.ratio,
    memory.gatewayPeakRssMiB,
    memory.baselinePeakRssMiB,
    guarded.queryShape.bare.perSecond,
    guarded.queryShape.ratio,
  ];
  expect(figures.every(isNumber), JSON.stringify(results.figures)).toBe(true);
  expect(guarded.gateway.perSecond).toBeGreaterThan(0);
  expect(login.gateway.perSecond).toBeGreaterThan(0);
  expect(refresh.gateway.perSecond).toBeGreaterThan(0);
  // The bare baseline answered the guarded query's shape, not an error.
  expect(guarded.queryShape.bare.perSecond).toBeGreaterThan(0);
  // The storm drives twice the admitted logins: the excess must come back shed, not queued.
  expect(storm.logins.shedPerSecond, JSON.stringify(storm.logins.outcomes)).toBeGreaterThan(0);
  expect(results.targets).toHaveLength(7);
  // Where the time went: every closed-loop figure's CPU (and the storm's guarded load), split
  // between the server (its event loop a part of it), the load generator and the rest of the
  // machine (which holds both), and how long the event loop waited for a core.
  for (const figure of [guarded.baseline, guarded.queryShape.bare, guarded.gateway, refresh.gateway, storm.guarded]) {
    expect([figure.serverCpu, figure.serverMainThreadCpu, figure.loadgenCpu, figure.machineCpu].every(isNumber), JSON.stringify(figure)).toBe(true);
    if (schedstat) {
      // Waiting and running are apart: together at most the whole time (a little slack for the reads).
      expect(figure.serverMainThreadWait).toBeGreaterThanOrEqual(0);
      expect(figure.serverMainThreadWait + figure.serverMainThreadCpu).toBeLessThan(1.1);
    } else {
      // JSON has no NaN: a kernel that keeps no scheduler statistics gives null, shown as n/a.
      expect(figure.serverMainThreadWait).toBeNull();
    }
    expect(figure.serverMainThreadCpu).toBeGreaterThan(0);
    // A process's CPU time comes in 10 ms clock ticks (user and system apart): a few of slack.
    expect(figure.serverMainThreadCpu).toBeLessThanOrEqual(figure.serverCpu + 0.05);
    // The machine's is sampled (each core's state at every tick): over one turn of a second on
    // two cores, about ±7 ticks is usual; allow three times that.
    expect(figure.machineCpu).toBeGreaterThan(figure.serverCpu + figure.loadgenCpu - 0.2);
  }
  expect(results.machine.cores).toBeGreaterThan(0);
  expect(results.settings.gateway.PASSWORD_HASH_CONCURRENCY).toMatch(/^\d+$/);

  const markdown = readFileSync(path.join(out, 'RESULTS.md'), 'utf8');
  expect(markdown).toContain(results.machine.node);
  expect(markdown).toContain('PASSWORD_HASH_QUEUE');
  expect(markdown).toContain('## Where the time goes');
  // No cell is n/a, but for the event loop's wait (the fifth column of "Where the time goes") on
  // a kernel that keeps no scheduler statistics.
  const waitColumn = (line: string) => line.startsWith('| ') && line.includes(' µs (');
  const cells = markdown.split('\n').flatMap((line) => {
    const row = line.split(' | ');
    return schedstat || !waitColumn(line) ? row : row.filter((_, i) => i !== 4);
  });
  expect(cells.join(' | ')).not.toMatch(/\| n\/a \|/);
  // Written where told, not over the committed results.
  expect(committedStamp()).toBe(stampBefore);
});
