/**
 * `npm run bench`: runs the benchmark, prints one table, writes results.json and RESULTS.md.
 *
 *   DATABASE_URL, REDIS_URL   real PostgreSQL and Redis (the targets are judged with both)
 *   BENCH_SECONDS             seconds each figure is measured for (default 20)
 *   BENCH_WARMUP_SECONDS      unmeasured warm-up before each (default 3)
 *   BENCH_ROUNDS              rounds, each measuring every figure and its baseline (default 3;
 *                             within one, the query and refresh figures take turns of 1 s)
 *   BENCH_OUT_DIR             where the two files go (default: bench/)
 *   ARGON2_*, PASSWORD_HASH_*, ACCESS_TOKEN_CACHE_SIZE, JWT_ALG, LOG_LEVEL,
 *   UV_THREADPOOL_SIZE, DATABASE_POOL_SIZE
 *                             passed on to the gateway
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runBench } from './harness';
import { renderMarkdown, renderTable } from './report';

const PASSED_ON = /^(ARGON2_|PASSWORD_HASH_|ACCESS_TOKEN_CACHE_SIZE$|JWT_ALG$|LOG_LEVEL$|UV_THREADPOOL_SIZE$|DATABASE_POOL_SIZE$)/;

const seconds = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!(value > 0)) throw new Error(`${name} must be a positive number of seconds`);
  return value;
};

async function main() {
  const started = performance.now();
  const outDir = path.resolve(process.env.BENCH_OUT_DIR ?? import.meta.dirname);
  const results = await runBench({
    seconds: seconds('BENCH_SECONDS', 20),
    warmupSeconds: seconds('BENCH_WARMUP_SECONDS', 3),
    rounds: Math.round(seconds('BENCH_ROUNDS', 3)),
    databaseUrl: process.env.DATABASE_URL || undefined,
    redisUrl: process.env.REDIS_URL || undefined,
    gatewaySettings: Object.fromEntries(
      Object.entries(process.env).filter((e): e is [string, string] => PASSED_ON.test(e[0]) && !!e[1]),
    ),
    progress: (line) => process.stderr.write(`bench: ${((performance.now() - started) / 1000).toFixed(1)} s: ${line}\n`),
  });
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(path.join(outDir, 'RESULTS.md'), renderMarkdown(results));
  process.stdout.write(renderTable(results));
  process.stdout.write(`\nwritten: ${path.join(outDir, 'results.json')}, ${path.join(outDir, 'RESULTS.md')}\n`);
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
