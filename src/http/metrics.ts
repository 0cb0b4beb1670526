/**
 * Prometheus metrics (prom-client), on a listener of their own (METRICS_PORT, off by default),
 * never on the public port: the security events of the audit log, the error codes clients
 * were answered with and the HTTP statuses, as counters; how long answers took, as a
 * histogram; the password-hashing admission, the
 * verified-token cache and where the rate limits live, read at each scrape; and prom-client's
 * process metrics (CPU, memory, event-loop delay, GC).
 * Counting costs the paths it counts an increment; prom-client also watches the event loop's
 * delay and garbage collection while it is loaded (only with METRICS_PORT).
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Config } from '../config';
import { AUDIT_EVENTS, type Audit, type AuditEvent } from '../domain/audit';
import type { AuthDeps } from '../domain/auth';
import { ErrorCode } from '../errors';
import type { ErrorCounter } from '../graphql/format-error';
import { createHttpApp } from './base-app';
import { RATE_LIMIT_MODES, type RateLimitMode } from './health';

export class GatewayMetrics implements ErrorCounter {
  readonly registry = new Registry();
  private readonly events = new Counter({
    name: 'gateway_audit_events_total',
    help: 'Security events, as in the audit log (README: Audit log).',
    labelNames: ['event'],
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'gateway_graphql_errors_total',
    help: 'Errors in GraphQL responses, by extensions.code.',
    labelNames: ['code'],
    registers: [this.registry],
  });

  private readonly responses = new Counter({
    name: 'gateway_http_responses_total',
    help: 'HTTP answers by listener and status, the HTTP layer\'s refusals included (404, 408, 413, 415, 431, the subgraph listener\'s 403).',
    labelNames: ['listener', 'status'],
    registers: [this.registry],
  });
  private readonly durations = new Histogram({
    name: 'gateway_http_request_duration_seconds',
    help: 'Time from a request\'s headers read to its answer sent, by listener (a login\'s includes its password hash).',
    labelNames: ['listener'],
    // From a cached guarded query (well under 1 ms) to a login queued behind others' hashes.
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  constructor() {
    // Every series from the start, at 0: a rate over a series that appears late misses its start.
    for (const event of Object.keys(AUDIT_EVENTS)) this.events.inc({ event }, 0);
    for (const code of Object.values(ErrorCode)) this.errors.inc({ code }, 0);
    collectDefaultMetrics({ register: this.registry });
  }

  /** The audit log, each event also counted. */
  counting(audit: Audit): Audit {
    return (event: AuditEvent, fields) => {
      this.events.inc({ event });
      audit(event, fields);
    };
  }

  countError(code: ErrorCode) {
    this.errors.inc({ code });
  }

  /**
   * Counts the answers of one listener by status (its series appear with their first answer),
   * and times those given a duration: every routed request's (not the answers given outside
   * the routes: the HTTP parser's refusals, a URL Fastify cannot route, an Expect refusal).
   */
  answeredOn(listener: 'public' | 'subgraph') {
    const counters = new Map<number, Counter.Internal>();
    // The listener's histogram from the start, at 0, as the counters above.
    this.durations.zero({ listener });
    const timer = this.durations.labels({ listener });
    return (status: number, elapsedMs?: number) => {
      let counter = counters.get(status);
      if (!counter) counters.set(status, (counter = this.responses.labels({ listener, status: String(status) })));
      counter.inc();
      if (elapsedMs !== undefined) timer.observe(elapsedMs / 1000);
    };
  }

  /** Gauges of the gateway's state, read at each scrape. */
  watch(deps: Pick<AuthDeps, 'hasher' | 'verifiedTokens'>, rateLimitMode: () => RateLimitMode) {
    new Gauge({
      name: 'gateway_rate_limits',
      help: 'Where the rate-limit counters live, as /readyz says: 1 for the current mode (memory-fallback and redis-down: Redis unreachable or refusing the counters\' commands, degraded).',
      labelNames: ['mode'],
      registers: [this.registry],
      collect() {
        const current = rateLimitMode();
        for (const mode of RATE_LIMIT_MODES) this.set({ mode }, mode === current ? 1 : 0);
      },
    });
    new Gauge({
      name: 'gateway_password_hashes',
      help: 'Password hashes running and waiting for a place (PASSWORD_HASH_CONCURRENCY, PASSWORD_HASH_QUEUE).',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const { running, waiting } = deps.hasher.load;
        this.set({ state: 'running' }, running);
        this.set({ state: 'waiting' }, waiting);
      },
    });
    new Gauge({
      name: 'gateway_verified_tokens_cached',
      help: 'Verified access tokens remembered (ACCESS_TOKEN_CACHE_SIZE).',
      registers: [this.registry],
      collect() {
        this.set(deps.verifiedTokens.size);
      },
    });
  }
}

/** GET /metrics in Prometheus's text format; everything else 404 as on the other listeners. */
export async function createMetricsApp(metrics: GatewayMetrics, config: Config, logger: Logger): Promise<FastifyInstance> {
  const app = await createHttpApp(config, logger);
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  return app;
}
