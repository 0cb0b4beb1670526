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
          'currentPassword',
          'refreshToken',
          '*.refreshToken',
          'accessToken',
          '*.accessToken',
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
 */
export function batchedStdout(onClosed: () => void = () => {}): DestinationStream {
  const stream = pino.destination({ dest: 1, sync: true, minLength: 8_192, periodicFlush: 250 });
  // stdout closed under us (EPIPE: whatever read it is gone). pino then makes the stream write
  // nothing; `onClosed` says what the process does about it; and there is no flush at exit:
  // sonic-boom 4's flushSync retries a failed write forever, and the process would hang there,
  // deaf to SIGTERM. Other write errors are dropped: a logger has nowhere to report its own.
  let closed = false;
  const onError = (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' || closed) return;
    closed = true;
    onClosed();
  };
  stream.on('error', onError);
  process.stdout.on('error', onError);
  process.once('exit', () => {
    if (closed) return;
    try {
      stream.flushSync();
    } catch {
      // nothing left to write to
    }
  });
  return stream;
}

/**
 * The domain's audit lines, through `logger`: one line per event at the event's level, marked
 * `"audit": true` (with `bindings`) so that they can be told apart and shipped. `level` lets a
 * quieter logger (the admin CLI's) still write them.
 */
export function auditLog(logger: Logger, bindings: Bindings = {}, level: string = logger.level): Audit {
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
