/** The benchmark's results, the targets they are judged by, and the two renderings of them. */

export interface Figure {
  /** Answers of the measured kind per second. */
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  responses: number;
  /** Answers of another kind, plus transport errors and timeouts. */
  failed: number;
  /** CPU the server process used, in cores (1 = one core busy throughout). */
  serverCpu: number;
  /** CPU the server's main thread (its event loop) used, in cores: at most 1 (give or take a clock tick). */
  serverMainThreadCpu: number;
  /** Share of the time the server's main thread was ready to run but waited for a core (0–1; NaN where not kept). */
  serverMainThreadWait: number;
  /** CPU the load generator (the benchmark's own process) used, in cores. */
  loadgenCpu: number;
  /** CPU the whole machine used (every process, the kernel), in cores. */
  machineCpu: number;
}

export interface Latency {
  p50: number;
  p99: number;
  max: number;
}

export interface Target {
  name: string;
  rule: string;
  measured: string;
  met: boolean;
}

export interface BenchResults {
  generatedAt: string;
  durationSeconds: number;
  machine: {
    cpuModel: string;
    cores: number;
    memoryMiB: number;
    node: string;
    os: string;
    /** The 1-minute load average when the run started and ended: what else was running. */
    loadAverage: { before: number; after: number };
  };
  settings: {
    database: string;
    rateLimits: string;
    seconds: number;
    rounds: number;
    /** The turns the query and refresh figures and their baselines take, spread over the rounds. */
    queryTurns: { count: number; seconds: number };
    warmupSeconds: number;
    connections: { query: number; login: number; refresh: number };
    /** The node options the gateway ran with (those of `npm run start:prod`). */
    gatewayNode?: string;
    gateway: Record<string, string>;
  };
  figures: {
    guarded: {
      gateway: Figure;
      baseline: Figure;
      ratio: number;
      /** The bare baseline answering the guarded query itself (same header, no token check). */
      queryShape: { bare: Figure; ratio: number };
    };
    login: { gateway: Figure; baseline: { hashesPerSecond: number; concurrency: number }; ratio: number };
    refresh: { gateway: Figure; baseline: Figure; ratio: number };
    storm: {
      guarded: Figure;
      baseline: Figure;
      ratio: number;
      logins: {
        admittedPerSecond: number;
        shedPerSecond: number;
        admittedLatencyMs: Latency | null;
        shedLatencyMs: Latency | null;
        outcomes: Record<string, number>;
        /** Logins sent per second (evenly spaced, whatever the answers). */
        offeredPerSecond: number;
        /** The most logins waiting for their answers at once. */
        peakInFlight: number;
      };
    };
    memory: { gatewayPeakRssMiB: number; baselinePeakRssMiB: number };
  };
  targets: Target[];
}

const TARGETS = {
  guardedRatio: 0.85,
  loginRatio: 0.9,
  refreshRatio: 0.3,
  stormRatio: 0.5,
  stormP99Ms: 15,
  shedP99Ms: 15,
  peakRssMiB: 200,
};

const n = (value: number, digits = 0) =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a';
const ms = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? 'n/a' : `${n(value, value < 10 ? 1 : 0)} ms`);
const x = (ratio: number) => `${n(ratio, 2)}×`;

export function evaluateTargets(r: BenchResults): Target[] {
  const f = r.figures;
  const shed = f.storm.logins.shedLatencyMs;
  return [
    {
      name: 'guarded query',
      rule: `≥ ${TARGETS.guardedRatio}× the bare baseline`,
      measured: x(f.guarded.ratio),
      met: f.guarded.ratio >= TARGETS.guardedRatio,
    },
    {
      name: 'login',
      rule: `≥ ${TARGETS.loginRatio}× the argon2 bound`,
      measured: x(f.login.ratio),
      met: f.login.ratio >= TARGETS.loginRatio,
    },
    {
      name: 'refresh',
      rule: `≥ ${TARGETS.refreshRatio}× the bare baseline`,
      measured: x(f.refresh.ratio),
      met: f.refresh.ratio >= TARGETS.refreshRatio,
    },
    {
      name: 'login storm: guarded throughput',
      rule: `≥ ${TARGETS.stormRatio}× unloaded`,
      measured: x(f.storm.ratio),
      met: f.storm.ratio >= TARGETS.stormRatio,
    },
    {
      name: 'login storm: guarded p99',
      rule: `≤ ${TARGETS.stormP99Ms} ms`,
      measured: ms(f.storm.guarded.p99Ms),
      met: f.storm.guarded.p99Ms <= TARGETS.stormP99Ms,
    },
    {
      name: 'login storm: excess logins shed',
      rule: `answered SERVICE_UNAVAILABLE or RATE_LIMITED, p99 ≤ ${TARGETS.shedP99Ms} ms`,
      measured: shed ? `${n(f.storm.logins.shedPerSecond)}/s shed, p99 ${ms(shed.p99)}` : 'none shed',
      met: shed !== null && f.storm.logins.shedPerSecond > 0 && shed.p99 <= TARGETS.shedP99Ms,
    },
    {
      name: 'peak RSS',
      rule: `≤ ${TARGETS.peakRssMiB} MB`,
      measured: `${n(f.memory.gatewayPeakRssMiB)} MB`,
      met: f.memory.gatewayPeakRssMiB <= TARGETS.peakRssMiB,
    },
  ];
}

/** Rows of the one table: what was measured, against what, and the ratio. */
function rows(r: BenchResults): string[][] {
  const f = r.figures;
  const fig = (g: { perSecond: number; p50Ms: number; p99Ms: number }, unit = 'req/s') =>
    `${n(g.perSecond)} ${unit}, p50 ${ms(g.p50Ms)}, p99 ${ms(g.p99Ms)}`;
  const admitted = f.storm.logins.admittedLatencyMs;
  const shed = f.storm.logins.shedLatencyMs;
  return [
    ['figure', 'gateway', 'baseline (same run)', 'ratio'],
    ['1. guarded query `me { id roles }`', fig(f.guarded.gateway), `bare Apollo \`{ hello }\`: ${fig(f.guarded.baseline)}`, x(f.guarded.ratio)],
    [
      '2. login',
      fig(f.login.gateway, 'logins/s'),
      `argon2 bound: ${n(f.login.baseline.hashesPerSecond, 1)} hashes/s at concurrency ${f.login.baseline.concurrency}`,
      x(f.login.ratio),
    ],
    ['3. refresh rotation', fig(f.refresh.gateway, 'rotations/s'), `bare Apollo: ${n(f.refresh.baseline.perSecond)} req/s`, x(f.refresh.ratio)],
    [
      '4. guarded query during a login storm',
      `${fig(f.storm.guarded)}; logins: ${n(f.storm.logins.admittedPerSecond, 1)}/s admitted (p99 ${ms(admitted?.p99)}), ${n(f.storm.logins.shedPerSecond)}/s shed (p99 ${ms(shed?.p99)})`,
      `unloaded: ${fig(f.storm.baseline)}`,
      x(f.storm.ratio),
    ],
    [
      '5. peak RSS',
      `gateway: ${n(f.memory.gatewayPeakRssMiB)} MB`,
      `bare Apollo: ${n(f.memory.baselinePeakRssMiB)} MB`,
      x(f.memory.gatewayPeakRssMiB / f.memory.baselinePeakRssMiB),
    ],
  ];
}

/** The table printed by `npm run bench`. */
export function renderTable(r: BenchResults): string {
  const table = rows(r).map((row) => row.map((cell) => cell.replaceAll('`', '')));
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i]!)).join(' │ ');
  const rule = widths.map((w) => '─'.repeat(w)).join('─┼─');
  const targets = r.targets.map((t) => `${t.met ? '✓' : '✗'} ${t.name}: ${t.measured} (target ${t.rule})`);
  const shape = `the query itself: bare Apollo answers me { id roles } at ${x(r.figures.guarded.queryShape.ratio)} its { hello } rate`;
  return [line(table[0]!), rule, ...table.slice(1).map(line), '', ...targets, '', shape, ''].join('\n');
}

/** Microseconds of CPU per answer of the measured kind. */
const perAnswerUs = (cores: number, g: Figure) => (cores / g.perSecond) * 1e6;

/**
 * Where each closed-loop figure's CPU went, per answer: the server (its event loop's share), the
 * load generator, the rest; and how busy the server's event loop and the machine were.
 */
function cpuRows(r: BenchResults): string[][] {
  const f = r.figures;
  const us = (value: number) => (Number.isFinite(value) ? `${n(value)} µs` : 'n/a');
  const percent = (value: number) => (Number.isFinite(value) ? `${n(100 * value)} %` : 'n/a');
  const row = (name: string, g: Figure) => [
    name,
    n(g.perSecond),
    `${us(perAnswerUs(g.serverCpu, g))} (${us(perAnswerUs(g.serverMainThreadCpu, g))})`,
    percent(g.serverMainThreadCpu),
    percent(g.serverMainThreadWait),
    us(perAnswerUs(g.loadgenCpu, g)),
    // The machine's total is sampled (each core's state at every 10 ms tick), a process's own
    // time is not: when nothing else ran, the total may come out a little below its parts.
    us(perAnswerUs(Math.max(0, g.machineCpu - g.serverCpu - g.loadgenCpu), g)),
    percent(g.machineCpu / r.machine.cores),
  ];
  return [
    ['load', 'answers/s', 'server (its event loop)', 'event loop busy', 'event loop waiting for a core', 'load generator', 'everything else', 'machine busy'],
    row('bare Apollo `{ hello }`', f.guarded.baseline),
    row('bare Apollo `me { id roles }` (no token check)', f.guarded.queryShape.bare),
    row('gateway `me { id roles }`', f.guarded.gateway),
    row('gateway refresh rotation', f.refresh.gateway),
    row('gateway `me { id roles }` during the login storm', f.storm.guarded),
  ];
}

export function renderMarkdown(r: BenchResults): string {
  const [head, ...body] = rows(r);
  const [cpuHead, ...cpuBody] = cpuRows(r);
  const mdRow = (row: string[]) => `| ${row.join(' | ')} |`;
  const s = r.settings;
  const f = r.figures;
  const cpu = (g: Figure) => `${n(g.serverCpu * 100)} %`;
  return `# Benchmark results

Generated by \`npm run bench\` on ${r.generatedAt} (${r.durationSeconds} s in all). Do not edit by
hand: run it again. Every ratio compares two figures measured in the same run on the same
machine; absolute numbers depend on the machine and on whatever else ran on it.

## Machine

| | |
|---|---|
| CPU | ${r.machine.cpuModel} |
| cores | ${r.machine.cores} |
| memory | ${n(r.machine.memoryMiB)} MiB |
| Node | ${r.machine.node} |
| OS | ${r.machine.os} |
| load average (1 min) | ${n(r.machine.loadAverage.before, 2)} at the start, ${n(r.machine.loadAverage.after, 2)} at the end |

## Figures

${mdRow(head!)}
|---|---|---|---|
${body.map(mdRow).join('\n')}

## Targets

| target | rule | measured | met |
|---|---|---|---|
${r.targets.map((t) => `| ${t.name} | ${t.rule} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`).join('\n')}

## Where the time goes

CPU per answer, from the processes' CPU time during each measurement (all rounds): the server
that answered (in brackets, its main thread's share: the event loop, where Node runs all of a
server's JavaScript), the load generator (autocannon, in the benchmark's process), and
everything else on the machine (PostgreSQL, Redis, the kernel, whatever else ran); then how
busy the server's event loop was, how long it was ready to run but waited for a core (the
scheduler's count), and how busy the machine's ${r.machine.cores} cores were. A load whose
event loop is busy near 100 % is bound by that one thread, whatever the machine has to spare:
it goes faster only if the server spends less on its event loop per answer. One whose event
loop waits for a core is held back by whatever else runs on the machine. During the storm the
gateway's CPU includes the storm's logins and their hashing, shared among the guarded answers.

${mdRow(cpuHead!)}
|---|---|---|---|---|---|---|---|
${cpuBody.map(mdRow).join('\n')}

The query itself: the bare baseline answers \`me { id roles }\` (the guarded load's very
requests, bearer header included, though it checks no token) at ${x(f.guarded.queryShape.ratio)} its \`{ hello }\`
rate, and the gateway answers them at ${x(f.guarded.gateway.perSecond / f.guarded.queryShape.bare.perSecond)} the bare server's rate for the same
query: figure 1's ${x(f.guarded.ratio)} is the product of the two, the query's shape and the gateway's own work.

## How it was measured

- The gateway runs as production runs it: built by \`npm run build\` (esbuild) and started with
  the node options of \`npm run start:prod\` (\`${s.gatewayNode ?? ''}\`). The bare
  baseline is built the same way. Each is a process of its own on 127.0.0.1; autocannon drives
  them from the benchmark's process. Storage: ${s.database}; rate limits: ${s.rateLimits}.
- Each figure is measured for about ${s.seconds} s in all, after ${s.warmupSeconds} s of unmeasured
  warm-up (logins, and a login storm: at most 2 s each), in ${s.rounds} rounds; each round measures every figure and its
  baseline one after the other, so that drift in whatever else runs on the machine hits both
  alike. The bare baseline (both queries), the guarded query and the refresh take
  ${s.queryTurns.count} turns of ${s.queryTurns.seconds} s each, spread over the rounds, each turn starting with the next of
  them, since on a shared machine the speed of a core changes from one second to the next. Connections: ${s.connections.query} for queries and refreshes, ${s.connections.login}
  for logins (the hashes the gateway runs at once plus its admission queue: hashing saturated,
  nothing shed). The storm offers logins at twice the argon2 bound per second (or twice the
  login rate just measured, if higher), plus the admission queue's places once over the storm
  (${n(f.storm.logins.offeredPerSecond)}/s in all), one every 1/rate s
  whatever the answers (as a flood does), each on a free keep-alive connection (at most
  ${n(f.storm.logins.peakInFlight)} waiting at once), from a client process of its own: half of them are beyond
  capacity. Not autocannon for this one: its rate limit sends each second's quota back to back
  as the second starts, a burst and then nothing, which leaves hashing idle for part of every
  second.
- Only answers of the measured kind count: a guarded query answered with an error, a login
  that was shed or a failed refresh is not in the figure (failed answers: guarded
  ${n(f.guarded.gateway.failed)}, login ${n(f.login.gateway.failed)}, refresh ${n(f.refresh.gateway.failed)}).
- The baseline of the guarded query is a bare \`@apollo/server\` on Fastify with
  \`@as-integrations/fastify\`, as in the gateway, answering \`{ hello }\`. The argon2 bound is
  argon2id verifications per second with the gateway's parameters at its hashing concurrency,
  measured in the benchmark's process while both servers were idle. Refreshes rotate real tokens:
  every request spends one and the answer's successor is used next.
- Gateway CPU (cores busy): guarded ${cpu(f.guarded.gateway)}, login ${cpu(f.login.gateway)},
  refresh ${cpu(f.refresh.gateway)}, storm ${cpu(f.storm.guarded)}; bare baseline ${cpu(f.guarded.baseline)}.
- Peak RSS is the kernel's high-water mark (VmHWM) of each server process.

## Gateway settings used

| setting | value |
|---|---|
${Object.entries(s.gateway)
  .map(([k, v]) => `| \`${k}\` | \`${v}\` |`)
  .join('\n')}

Everything else at its default. Rate limits are raised so that the benchmark measures work,
not refusals.
`;
}
