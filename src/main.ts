/** Start-up: config → stores → app → listen; SIGTERM/SIGINT drain and close. */
import 'reflect-metadata';
import { constants as osConstants } from 'node:os';
import type { Logger } from 'pino';
import { createApp } from './app';
import { describeClientIp, openConfiguredDatabase, prepareSchema, requireEncryptionKeysInUse, warnAboutEncryptionKeyOrder, openCounters, openRevocations, refuseUnusableRedis, resolveEncryptionKeys } from './bootstrap';
import { describeFailure, exitOnUnhandled, isExpectedFailure } from './failure';
import { compose, startKeyReloader, startRevocationCatchUp } from './compose';
import { ConfigError, DEVELOPMENT_KEY_ID, loadConfig, unknownSettings, type Config } from './config';
import { describeError } from './describe-error';
import { prune } from './domain/admin';
import { listeningUrl, reach } from './http/listening-url';
import { batchedStdout, createLogger, routeConsoleToLog } from './logger';
import { logPoolPriority } from './thread-priority';

const PRUNE_EVERY_MS = 60 * 60 * 1000;
const DRAIN_MS = 10_000;
/** A signal this soon after the first is the same one, passed on (see onSignal). */
const REPEATED_SIGNAL_MS = 2_000;

/**
 * Said once at start: a mode that is neither production nor development (NODE_ENV=test, which a
 * production launcher takes as it is), production keeping the development encryption key, and
 * names in the environment that look like settings but are none (a misspelling leaves its setting
 * at its default, maybe a weaker one).
 */
function warnAboutSettings(config: Pick<Config, 'production' | 'development' | 'encryptionKeys'>, logger: Logger) {
  if (!config.production && !config.development) {
    logger.warn('NODE_ENV=test: not production (introspection, field suggestions and the playground are on); set NODE_ENV=production to serve');
  }
  if (config.production && config.encryptionKeys?.some((key) => key.id === DEVELOPMENT_KEY_ID)) {
    logger.warn(`ENCRYPTION_KEYS keeps the development key "${DEVELOPMENT_KEY_ID}": drop it once \`npm run admin -- reencrypt\` has re-sealed what it sealed`);
  }
  const unknown = unknownSettings(process.env);
  if (unknown.length > 0) logger.warn({ names: unknown }, 'environment names that look like settings but are none (misspelt?): ignored');
}

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Refusing to start: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  // Without stdout (its reader gone), stop as on SIGTERM and exit 1: the audit log has nowhere
  // to go, and a supervisor restarts the gateway with a working one.
  let onStdoutClosed: () => void = () => {
    process.stderr.write('stdout closed (EPIPE) while starting: exiting\n');
    process.exit(1);
  };
  const stdout = batchedStdout(() => onStdoutClosed());
  const logger = createLogger(config.logLevel, stdout);
  routeConsoleToLog(logger);
  // Said as every failure is logged: its class and codes (development: and the stack frames);
  // on stderr when the log is silent, as a failed start is.
  exitOnUnhandled((error) => {
    const err = describeError(error, { stack: config.development });
    if (logger.isLevelEnabled('fatal')) logger.fatal({ err }, 'crashed: an error nothing handled');
    else process.stderr.write(`crashed: an error nothing handled: ${JSON.stringify(err)}\n`);
  });
  warnAboutSettings(config, logger);
  const encryptionKeys = resolveEncryptionKeys(config, logger);
  const database = await openConfiguredDatabase(config, logger);
  await prepareSchema(database, logger);
  await requireEncryptionKeysInUse(database, encryptionKeys);
  await warnAboutEncryptionKeyOrder(database, encryptionKeys, logger);
  const counters = openCounters(config, logger);
  // Start with shared counters when Redis is there; if not, the fallback covers until it is.
  await counters.redis?.ready(3000);
  await refuseUnusableRedis(counters.redis);
  const revocations = openRevocations(config, counters.redis, logger);
  await revocations.started();
  // Loaded only when asked for, as the federation libraries below: most gateways do without.
  const metricsModule = config.metrics && (await import('./http/metrics'));
  const metrics = metricsModule ? new metricsModule.GatewayMetrics() : undefined;
  const { deps, reloadKeys } = await compose({ config, database, encryptionKeys, counters: counters.store, revocations, logger, metrics });
  const stopRevocationCatchUp = await startRevocationCatchUp(deps, config, logger);
  const app = await createApp({ config, deps, logger, pingDatabase: database.ping, rateLimitMode: counters.mode, metrics });
  const subgraph =
    config.subgraph &&
    (await (await import('./http/subgraph-app')).createSubgraphApp({ config, deps, logger, settings: config.subgraph, metrics }));
  metrics?.watch(deps, counters.mode);
  const metricsApp = metricsModule && metrics && (await metricsModule.createMetricsApp(metrics, config, logger));
  logger.info(describeClientIp(config.trustProxy));
  logPoolPriority(logger);
  if (config.subgraph) {
    const line = `subgraph listener ${describeClientIp(config.subgraph.trustProxy, 'SUBGRAPH_TRUST_PROXY')}`;
    // Unset, every client behind the router shares the router's address-based limits.
    if (config.subgraph.trustProxy === false) logger.warn(line);
    else logger.info(line);
  }

  const runPrune = () =>
    prune(deps).then(
      (pruned) => logger.info(pruned, 'pruned sessions and spent refresh tokens'),
      (error) => logger.warn({ err: describeError(error) }, 'prune failed'),
    );
  const firstPrune = setTimeout(runPrune, 60_000).unref();
  const pruner = setInterval(runPrune, PRUNE_EVERY_MS).unref();
  const stopKeyReloader = startKeyReloader(reloadKeys, config.keys.reloadSeconds, logger);

  let stopping = false;
  const stop = async (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining');
    clearTimeout(firstPrune);
    clearInterval(pruner);
    stopKeyReloader();
    stopRevocationCatchUp();
    // Stop accepting, let in-flight requests finish, for up to 10 s: then close every connection
    // still open, as Apollo's drain does on a signal. (This stop also runs without one, when stdout
    // closes; and a connection that went idle after the close began, kept alive by its client,
    // would otherwise hold the close open for as long as the client keeps it.)
    const drained = setTimeout(() => {
      app.server.closeAllConnections();
      subgraph?.server.closeAllConnections();
      metricsApp?.server.closeAllConnections();
    }, DRAIN_MS);
    await Promise.all([app.close(), subgraph?.close(), metricsApp?.close()]);
    clearTimeout(drained);
    await database.close();
    await revocations.close();
    await counters.redis?.close();
    logger.info('stopped');
    process.exit(exitCode);
  };
  onStdoutClosed = () => {
    process.stderr.write('stdout closed (EPIPE): stopping\n');
    void stop('stdout closed', 1);
  };
  // A second signal while draining (Ctrl-C again, a process manager that gives up waiting) stops
  // at once, without the requests still in flight, and exits as a process the signal killed would.
  // Not one within two seconds of the first: a Ctrl-C in the terminal of `npm start` reaches the
  // gateway twice, from the terminal and passed on by npm.
  let firstSignalAt = 0;
  const onSignal = (signal: 'SIGTERM' | 'SIGINT') => {
    if (!stopping) {
      firstSignalAt = performance.now();
      return void stop(signal);
    }
    if (performance.now() - firstSignalAt < REPEATED_SIGNAL_MS) return;
    logger.warn({ signal }, 'stopping at once: a second signal came while draining; requests in flight are cut off');
    process.exit(128 + osConstants.signals[signal]);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  await app.listen({ port: config.port, host: config.host });
  const url = listeningUrl(app.server, config.host, config.port);
  logger.info({ url, host: config.host }, 'gateway ready');
  // The development default, http://localhost:PORT, with PORT=0 (README: set JWT_ISSUER then).
  if (new URL(config.jwt.issuer).port === '0') {
    logger.warn({ issuer: config.jwt.issuer }, 'JWT_ISSUER names port 0: tokens and discovery name an issuer no verifier can reach; set JWT_ISSUER to the URL clients use');
  }
  process.stdout.write(`GraphQL auth gateway ready at ${url}${reach(config.host)}\n`);
  if (subgraph && config.subgraph) {
    await subgraph.listen({ port: config.subgraph.port, host: config.subgraph.host });
    const subgraphUrl = listeningUrl(subgraph.server, config.subgraph.host, config.subgraph.port);
    logger.info({ url: subgraphUrl, host: config.subgraph.host }, 'subgraph listener ready');
    process.stdout.write(`Federation subgraph listener at ${subgraphUrl}${reach(config.subgraph.host)}\n`);
  }
  if (metricsApp && config.metrics) {
    await metricsApp.listen({ port: config.metrics.port, host: config.metrics.host });
    const metricsUrl = listeningUrl(metricsApp.server, config.metrics.host, config.metrics.port, '/metrics');
    logger.info({ url: metricsUrl, host: config.metrics.host }, 'metrics listener ready');
    process.stdout.write(`Prometheus metrics at ${metricsUrl}${reach(config.metrics.host)}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${isExpectedFailure(error) ? 'Refusing to start' : 'Failed to start'}: ${describeFailure(error)}\n`);
  process.exit(1);
});
