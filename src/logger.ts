import { format } from 'node:util';
import pino, { type Bindings, type ChildLoggerOptions, type DestinationStream, type LogFn, type Logger } from 'pino';
import { AUDIT_EVENTS, type Audit } from './domain/audit';

/**
 * pino, JSON lines. Request headers are never logged whole, and these paths are censored in
 * case a caller logs an object that holds them.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: {
        paths: [
          'password',
          '*.password',
          'newPassword',
          '*.newPassword',
          'currentPassword',
          '*.currentPassword',
          'refreshToken',
          '*.refreshToken',
          'accessToken',
          '*.accessToken',
          'mfaToken',
          '*.mfaToken',
          'variables',
          '*.variables',
          'req.headers.authorization',
          'req.headers.cookie',
          'headers.authorization',
          'headers.cookie',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

/**
 * The server's stdout, written in batches: one system call per ~8 KB of lines instead of one per
 * line (per request, that call cost more than the rest of the logging). Flushed every 250 ms
 * and at exit, so a line is at most a quarter of a second late; a process killed outright
 * (SIGKILL, OOM) loses at most that much.
 *
 * The batching is ours, the writing pino's (sonic-boom, synchronous, unbuffered): sonic-boom 4's
 * own buffer is emptied at exit by its flushSync, which retries a failed write forever, so a
 * process whose stdout had closed (EPIPE: whatever read it is gone) hung there, deaf to SIGTERM.
 * A plain write reports EPIPE instead; pino then makes the stream write nothing, and `onClosed`
 * says what the process does about it. Other write errors are dropped: a logger has nowhere to
 * report its own.
 */
export function batchedStdout(onClosed: () => void = () => {}): DestinationStream {
  const out = pino.destination({ dest: 1, sync: true });
  let closed = false;
  const onError = (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' || closed) return;
    closed = true;
    onClosed();
  };
  out.on('error', onError);
  process.stdout.on('error', onError);
  let pending = '';
  const flush = () => {
    if (pending === '') return;
    const chunk = pending;
    pending = '';
    out.write(chunk);
  };
  setInterval(flush, 250).unref();
  process.once('exit', flush);
  return {
    write(line: string) {
      pending += line;
      if (pending.length >= 8_192) flush();
    },
  };
}

/**
 * What libraries print through console.warn and console.error becomes a line of the JSON log (at
 * warn and error level, `source: "library"`), as everything else the server says: a log shipper
 * that reads JSON lines would drop or choke on a plain one. Such as ioredis's "Skipping the ready
 * check because INFO command fails" (a Redis user without the INFO command, which `-@dangerous`
 * takes away) and "[WARN] Redis server does not require a password", or postgres.js's lines about
 * a message it does not know. The server's own code never prints through console.
 */
export function routeConsoleToLog(logger: Logger) {
  const log = logger.child({ source: 'library' });
  console.warn = (...args: unknown[]) => log.warn(format(...args));
  console.error = (...args: unknown[]) => log.error(format(...args));
}

/**
 * The domain's audit lines, through `logger`: one line per event at the event's level, marked
 * `"audit": true` (with `bindings`) so that they can be told apart and shipped. Written whatever
 * LOG_LEVEL says (a quieter level, warn or silent, would drop the security record with the noise),
 * as are the admin CLI's, whose logger starts at warn.
 */
export function auditLog(logger: Logger, bindings: Bindings = {}): Audit {
  const level = ['debug', 'trace'].includes(logger.level) ? logger.level : 'info';
  const log = logger.child({ audit: true, ...bindings }, { level });
  return (event, fields) => log[AUDIT_EVENTS[event]](fields, event);
}

type LogArgs = Parameters<LogFn>;

/**
 * A child logger made on first use. Fastify gives every request a child bound to its request
 * id, and pino builds a child at once, serialising and redacting its bindings: measured, that
 * cost a guarded request more than its own access line, for a logger almost no request uses.
 */
export class LazyChildLogger {
  private made: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private get logger(): Logger {
    return (this.made ??= this.parent.child(this.bindings, this.options));
  }

  get level() {
    return this.logger.level;
  }
  set level(level: string) {
    this.logger.level = level;
  }
  fatal(...args: LogArgs) {
    this.logger.fatal(...args);
  }
  error(...args: LogArgs) {
    this.logger.error(...args);
  }
  warn(...args: LogArgs) {
    this.logger.warn(...args);
  }
  info(...args: LogArgs) {
    this.logger.info(...args);
  }
  debug(...args: LogArgs) {
    this.logger.debug(...args);
  }
  trace(...args: LogArgs) {
    this.logger.trace(...args);
  }
  silent(...args: LogArgs) {
    this.logger.silent(...args);
  }
  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.logger.child(bindings, options);
  }
}
