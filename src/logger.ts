import pino, { type DestinationStream, type Logger } from 'pino';

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
export function batchedStdout(): DestinationStream {
  const stream = pino.destination({ dest: 1, sync: true, minLength: 8_192, periodicFlush: 250 });
  process.once('exit', () => {
    try {
      stream.flushSync();
    } catch {
      // stdout already closed (EPIPE): nothing left to write to
    }
  });
  return stream;
}
