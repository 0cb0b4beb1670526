/**
 * Load from this process with autocannon (programmatic). Every response is classified by a
 * cheap look at its body, so that a figure counts answers of the kind it claims (a guarded
 * query that came back UNAUTHENTICATED is not a guarded query served), and its latency is
 * kept per kind (a shed login and an admitted one are different things).
 */
import autocannon, { type Client, type Request } from 'autocannon';

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
  /** Requests per second over all connections, whatever the answers (open loop); unset: back to back. */
  rate?: number;
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
}

const baseHeaders = { 'content-type': 'application/json' };

export function percentiles(samples: number[]): Latency {
  if (samples.length === 0) return { p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]! };
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const samples: Record<string, number[]> = {};
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
    ...(options.rate && { overallRate: options.rate }),
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
  const result = await instance;
  const outcomes = Object.fromEntries(Object.entries(samples).map(([kind, list]) => [kind, list.length]));
  const latency = Object.fromEntries(Object.entries(samples).map(([kind, list]) => [kind, percentiles(list)]));
  const seconds = result.duration;
  return {
    seconds,
    responses: Object.values(outcomes).reduce((a, b) => a + b, 0),
    outcomes,
    okPerSecond: (outcomes.ok ?? 0) / seconds,
    latency,
    samples,
    transportErrors: result.errors + result.timeouts,
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
  };
}
