/**
 * The one line the server, `npm run db:migrate` or `npm run admin` prints about the error that
 * stops it, for the operator at a terminal. Unlike a log line (describe-error.ts: class and
 * driver code only, since logs are kept and shipped), it may show a driver's own message, which
 * says what is wrong (`connect ECONNREFUSED 127.0.0.1:5432`, `password authentication failed`),
 * but never a setting's secret: node's own report of an uncaught error would print a URL
 * error's whole input, password included.
 */
import { DrizzleQueryError } from 'drizzle-orm';
import { GatewayError, OperatorError } from './errors';

/** A state of the database the server will not start in; the message tells the operator what to do. */
export class StartupRefusal extends OperatorError {}

/** Ours, with a fixed message written for the operator (or a client): a refusal, not a crash. */
export const isExpectedFailure = (error: unknown): error is Error => error instanceof OperatorError || error instanceof GatewayError;

/**
 * Our own errors by their message; drizzle's, whose message holds the query and its parameters,
 * by their cause; anything else by its message and code, with the credentials of any URL in it
 * taken out.
 */
export function describeFailure(error: unknown): string {
  if (isExpectedFailure(error)) return error.message;
  if (!(error instanceof Error)) return 'an unknown error';
  if (error instanceof DrizzleQueryError) return error.cause ? describeFailure(error.cause) : 'a database query failed';
  const code = (error as { code?: unknown }).code;
  const message = withoutCredentials(error.message);
  if (error.name === 'PostgresError') return `the database answered: ${message}${typeof code === 'string' ? ` (SQLSTATE ${code})` : ''}`;
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
}

/** `scheme://user:password@host` → `scheme://…@host`, however the user name or password is written. */
const withoutCredentials = (text: string) => text.replace(/([a-z][a-z0-9+.-]*:\/\/)\S*@/gi, '$1…@');

/**
 * An error nothing handled (a library's dropped promise, say) ends the process, as Node's own
 * handling would (exit 1), but told by `report`: Node's report would print the error's message
 * and properties, which may quote a query's values or a URL's password.
 */
export function exitOnUnhandled(report: (error: unknown) => void) {
  const crash = (error: unknown) => {
    report(error);
    process.exit(1);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
}
