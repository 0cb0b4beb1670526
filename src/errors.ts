/**
 * The one registry of error codes a client can see. Every failure leaves the gateway as
 * `extensions.code` from this list; messages are fixed and reveal nothing an attacker can use.
 * Apollo's own parse/validation/request codes are passed through unchanged.
 */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  INVALID_CREDENTIALS: 'INVALID_CREDENTIALS',
  INVALID_TOKEN: 'INVALID_TOKEN',
  WEAK_PASSWORD: 'WEAK_PASSWORD',
  INVALID_MFA_CODE: 'INVALID_MFA_CODE',
  MFA_ALREADY_ENABLED: 'MFA_ALREADY_ENABLED',
  MFA_NOT_ENABLED: 'MFA_NOT_ENABLED',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  RATE_LIMITED: 'RATE_LIMITED',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
  // Apollo Server's own, passed through.
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
  BAD_REQUEST: 'BAD_REQUEST',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * A failure the operator must act on (a setting, a key, the database's state), never a client:
 * its message, written for the operator, says what to do, and is printed as it is, not as a
 * crash (failure.ts). Every such class extends this one.
 */
export class OperatorError extends Error {}

export type PasswordRejection =
  | 'TOO_SHORT'
  | 'TOO_LONG'
  | 'MISSING_UPPERCASE'
  | 'MISSING_LOWERCASE'
  | 'MISSING_DIGIT'
  | 'MISSING_SYMBOL'
  | 'COMMON_PASSWORD';

/**
 * Base of every expected failure. `extensions` is what the client sees beside the code.
 *
 * An expected failure is an answer, not a bug: it carries no stack trace. V8 would capture one
 * at construction, and graphql-js reads `.stack` of every error a resolver throws, which formats
 * it; under a login flood that was a tenth of the work of every shed login. No response or log
 * ever shows the stack of one of these.
 */
export abstract class GatewayError extends Error {
  abstract readonly code: ErrorCode;
  constructor(message: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(message);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
  get extensions(): Record<string, unknown> {
    return {};
  }
}

/**
 * A failure as a client receives it: its message, and its code beside what it carries. A
 * GatewayError fits as it is; a refusal with no class of its own gives the three parts.
 */
export function toWire(error: Pick<GatewayError, 'message' | 'code'> & { extensions?: Record<string, unknown> | undefined }) {
  return { message: error.message, extensions: { code: error.code, ...error.extensions } };
}

export class UnauthenticatedError extends GatewayError {
  readonly code = ErrorCode.UNAUTHENTICATED;
  constructor() {
    super('Authentication required.');
  }
}

export class ForbiddenError extends GatewayError {
  readonly code = ErrorCode.FORBIDDEN;
  constructor() {
    super('Not allowed.');
  }
}

/**
 * Same message for an unknown email, a wrong password and a disabled account. A signed-in
 * user's own password check (changePassword, enrollMfa) gives no email: 'password' says so.
 */
export class InvalidCredentialsError extends GatewayError {
  readonly code = ErrorCode.INVALID_CREDENTIALS;
  constructor(asked: 'email and password' | 'password' = 'email and password') {
    super(asked === 'password' ? 'Invalid password.' : 'Invalid email or password.');
  }
}

/** Same message for revoked, spent, expired, unknown and foreign tokens. */
export class InvalidTokenError extends GatewayError {
  readonly code = ErrorCode.INVALID_TOKEN;
  /**
   * `superseded`: a refresh token just replaced by a parallel refresh (the grace), whose session
   * lives on. The server's to know (the refresh cookie is kept then); the client sees the same.
   */
  constructor(readonly superseded = false, message = 'Invalid or expired token.') {
    super(message);
  }
}

/** A refresh with no token at all: neither the argument nor (where it is a transport) the cookie. */
export class MissingRefreshTokenError extends InvalidTokenError {
  constructor() {
    super(false, 'No refresh token given.');
  }
}

export class WeakPasswordError extends GatewayError {
  readonly code = ErrorCode.WEAK_PASSWORD;
  constructor(readonly reasons: readonly PasswordRejection[]) {
    super('Password does not meet the password policy.');
  }
  override get extensions() {
    return { reasons: [...this.reasons] };
  }
}

/** A wrong, reused or malformed TOTP or recovery code. */
export class InvalidMfaCodeError extends GatewayError {
  readonly code = ErrorCode.INVALID_MFA_CODE;
  constructor() {
    super('Invalid code.');
  }
}

export class MfaAlreadyEnabledError extends GatewayError {
  readonly code = ErrorCode.MFA_ALREADY_ENABLED;
  constructor() {
    super('MFA is already enabled: disable it first.');
  }
}

export class MfaNotEnabledError extends GatewayError {
  readonly code = ErrorCode.MFA_NOT_ENABLED;
  constructor() {
    super('MFA is not enabled.');
  }
}

export class BadUserInputError extends GatewayError {
  readonly code = ErrorCode.BAD_USER_INPUT;
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
  override get extensions() {
    return this.field ? { field: this.field } : {};
  }
}

/** Too many attempts; `retryAfter` is in whole seconds. Nothing was checked. */
export class RateLimitedError extends GatewayError {
  readonly code = ErrorCode.RATE_LIMITED;
  constructor(readonly retryAfter: number) {
    super('Too many attempts. Try again later.');
  }
  override get extensions() {
    return { retryAfter: this.retryAfter };
  }
}

/**
 * A store that cannot be reached, or password hashing saturated: worth retrying soon, so it
 * says when (`retryAfter`, also the Retry-After header), as RATE_LIMITED does: clients that
 * retry at once would only add to the load that shed them.
 */
export class ServiceUnavailableError extends GatewayError {
  readonly code = ErrorCode.SERVICE_UNAVAILABLE;
  readonly retryAfter = 1;
  constructor() {
    super('Service temporarily unavailable.');
  }
  override get extensions() {
    return { retryAfter: this.retryAfter };
  }
}

// Codes that mean "the store could not be reached", as raised by postgres.js, node's net
// layer and Postgres itself (admin shutdown, cannot connect now, database not accepting, a
// session ended as idle, connection exceptions, among them a pooler's: PgBouncer's
// query_wait_timeout is 08P01); or that Postgres rolled back a statement or transaction that may
// well succeed if sent again (a deadlock, a serialization failure, a statement_timeout or
// cancel, a lock_timeout, a transaction ended as idle).
const UNAVAILABLE_CODES = new Set([
  '40P01',
  '40001',
  '57014',
  '55P03',
  '25P03',
  '57P05',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '08P01',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '55000',
  '3D000',
]);

/** True when an error (or anything in its cause chain) says a store is unreachable. */
export function isUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 8; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
    if (e instanceof ServiceUnavailableError) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
