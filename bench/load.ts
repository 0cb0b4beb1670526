/**
 * Load from this process with autocannon (programmatic). Every response is classified by a
 * cheap look at its body, so that a figure counts answers of the kind it claims (a guarded
 * query that came back UNAUTHENTICATED is not a guarded query served), and its latency is
 * kept per kind (a shed login and an admitted one are different things).
 */
import { Agent, request as httpRequest } from 'node:http';
import autocannon, { type Client, type Request } from 'autocannon';

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
  /** Per connection (index 0 … connections-1): headers and body, fixed for the whole run. */
  request?: (connection: number) => { headers?: Record<string, string>; body: string };
  /** Instead of `request`: built afresh for every request (e.g. a refresh token that rotates). */
  dynamic?: () => { headers?: Record<string, string>; body: string };
  /** What each response was; the kind `ok` is the one the figure counts. */
  classify: (status: number, body: string) => string;
  onBody?: (body: string) => void;
}

export interface Latency {
  p50: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  seconds: number;
  responses: number;
  /** Responses per kind. */
  outcomes: Record<string, number>;
  /** Responses of kind `ok` per second. */
  okPerSecond: number;
  /** Milliseconds, per kind. */
  latency: Record<string, Latency>;
  /** Every response's milliseconds, per kind (to merge runs). */
  samples: Record<string, number[]>;
  transportErrors: number;
  /** Open loop only: the most requests that were waiting for their answers at once. */
  peakInFlight?: number;
}

const baseHeaders = { 'content-type': 'application/json' };

export function percentiles(samples: number[]): Latency {
  if (samples.length === 0) return { p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]! };
}

/** Back to back on every connection (closed loop): each answer sends the connection's next request. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const samples: Record<string, number[]> = {};
  const run = await drive(options, samples);
  return summarize(samples, run.duration, run.errors + run.timeouts);
}

const REQUEST_TIMEOUT_MS = 10_000;

/**
 * Open loop, evenly spaced: `rate` requests per second, one every 1/rate s, whatever the
 * answers (as a flood does), each on a free keep-alive connection (a new one only when all are
 * busy). Not autocannon: its rate limit gives each connection a quota per second, sent back to
 * back as the second starts, which makes a burst every second and nothing in between.
 */
export async function runPacedLoad(options: Omit<LoadOptions, 'connections' | 'dynamic'> & { rate: number }): Promise<LoadResult> {
  const samples: Record<string, number[]> = {};
  const agent = new Agent({ keepAlive: true });
  const target = new URL('/graphql', options.url);
  const gapMs = 1000 / options.rate;
  const total = Math.round(options.seconds * options.rate);
  const answers: Array<Promise<void>> = [];
  let transportErrors = 0;
  let inFlight = 0;
  let peakInFlight = 0;
  const send = (i: number) => {
    const { headers, body } = options.request?.(i) ?? { body: '{}' };
    const started = performance.now();
    inFlight++;
    peakInFlight = Math.max(peakInFlight, inFlight);
    answers.push(
      new Promise<void>((resolve) => {
        let settled = false;
        const fail = () => {
          if (settled) return;
          settled = true;
          transportErrors++;
          resolve();
        };
        const request = httpRequest(target, { method: 'POST', agent, headers: { ...baseHeaders, ...headers } }, (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', fail);
          response.on('end', () => {
            if (settled) return;
            settled = true;
            const kind = options.classify(response.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'));
            (samples[kind] ??= []).push(performance.now() - started);
            resolve();
          });
        });
        request.on('error', fail);
        // As autocannon's default: a request unanswered for 10 s is a transport error, not a hang.
        request.setTimeout(REQUEST_TIMEOUT_MS, () => request.destroy(new Error('no answer in time')));
        request.end(body);
      }).finally(() => inFlight--),
    );
  };
  const began = performance.now();
  await new Promise<void>((resolve) => {
    let sent = 0;
    const tick = () => {
      // Catch up after a late timer rather than drift: the rate holds over the whole run.
      while (sent < total && began + sent * gapMs <= performance.now()) send(sent++);
      if (sent < total) setTimeout(tick, Math.max(0, began + sent * gapMs - performance.now()));
      else resolve();
    };
    tick();
  });
  await Promise.all(answers);
  agent.destroy();
  return { ...summarize(samples, options.seconds, transportErrors), peakInFlight };
}

/** One autocannon instance; every response's time goes into `samples` under its kind. */
function drive(options: LoadOptions, samples: Record<string, number[]>) {
  // autocannon calls onResponse and then, synchronously on the same client, emits 'response'
  // with that response's time: the kind is handed from one to the other through `last`.
  let last = 'unclassified';
  let connection = 0;
  const request: Request = {
    method: 'POST',
    path: '/graphql',
    onResponse: (status: number, body: string) => {
      last = options.classify(status, body);
      options.onBody?.(body);
    },
    ...(options.dynamic && {
      setupRequest: (req: Request) => {
        const { headers, body } = options.dynamic!();
        return { ...req, headers: { ...baseHeaders, ...headers }, body };
      },
    }),
  };
  const instance = autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.seconds,
    method: 'POST',
    headers: baseHeaders,
    body: '{}',
    requests: [request],
    setupClient: (client: Client) => {
      if (options.request) {
        const { headers, body } = options.request(connection++ % options.connections);
        client.setHeadersAndBody({ ...baseHeaders, ...headers }, body);
      }
      client.on('response', (_status: number, _bytes: number, ms: number) => {
        (samples[last] ??= []).push(ms);
      });
    },
  });
  return instance;
}

function summarize(samples: Record<string, number[]>, seconds: number, transportErrors: number): LoadResult {
  const outcomes = Object.fromEntries(Object.entries(samples).map(([kind, list]) => [kind, list.length]));
  const latency = Object.fromEntries(Object.entries(samples).map(([kind, list]) => [kind, percentiles(list)]));
  return {
    seconds,
    responses: Object.values(outcomes).reduce((a, b) => a + b, 0),
    outcomes,
    okPerSecond: (outcomes.ok ?? 0) / seconds,
    latency,
    samples,
    transportErrors,
  };
}

/** Several runs of the same load (interleaved with others) as one. */
export function mergeLoads(runs: LoadResult[]): LoadResult {
  const samples: Record<string, number[]> = {};
  for (const run of runs) for (const [kind, list] of Object.entries(run.samples)) samples[kind] = (samples[kind] ?? []).concat(list);
  const outcomes = Object.fromEntries(Object.entries(samples).map(([kind, list]) => [kind, list.length]));
  const seconds = runs.reduce((sum, run) => sum + run.seconds, 0);
  return {
    seconds,
    responses: runs.reduce((sum, run) => sum + run.responses, 0),
    outcomes,
    okPerSecond: (outcomes.ok ?? 0) / seconds,
    latency: Object.fromEntries(Object.entries(samples).map(([kind, list]) => [kind, percentiles(list)])),
    samples,
    transportErrors: runs.reduce((sum, run) => sum + run.transportErrors, 0),
    ...(runs.some((run) => run.peakInFlight !== undefined) && {
      peakInFlight: Math.max(...runs.map((run) => run.peakInFlight ?? 0)),
    }),
  };
}
