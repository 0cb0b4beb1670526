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
