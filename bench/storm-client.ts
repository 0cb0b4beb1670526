/**
 * The login storm's client, a process of its own: the storm's answers are timed by an event
 * loop that nothing else keeps busy (the benchmark's own process drives the guarded queries
 * meanwhile), as a flood's clients would be on machines of their own. Reads its job as JSON on
 * stdin, prints `started` when the first login goes out and the result as JSON at the end.
 */
import { runPacedLoad } from './load';
import { classifyLogin } from './logins';

export interface StormJob {
  url: string;
  seconds: number;
  rate: number;
  /** Login bodies, used in turn. */
  bodies: string[];
}

async function main() {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const job = JSON.parse(Buffer.concat(chunks).toString('utf8')) as StormJob;
  process.stdout.write('started\n');
  const result = await runPacedLoad({
    url: job.url,
    seconds: job.seconds,
    rate: job.rate,
    request: (i) => ({ body: job.bodies[i % job.bodies.length]! }),
    classify: classifyLogin,
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error) => {
  process.stderr.write(`storm client failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
