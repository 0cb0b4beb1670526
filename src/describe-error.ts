/**
 * What the logs may say about an error that is not one of ours (the one line a failed start-up
 * or command prints is failure.ts's). A store's failure reaches us wrapped: drizzle's DrizzleQueryError, whose message is
 * "Failed query: <sql> params: <values>" (password hashes, token hashes, emails), with the
 * driver's error as its `cause`, which alone says what happened (ECONNREFUSED, 57P01…). So each
 * error of the `cause` chain is described by its name and the driver's code, never by a message,
 * in every mode; PostgreSQL's messages and details may quote values too.
 */
// From the file, not domain/crypto's index: the subgraph kit bundles this module, and the index
// would bring SecretBox along.
import { ENCRYPTION_KEY_ID } from './domain/crypto/key-id';

export interface ErrorDescription {
  type: string;
  /** The driver's code: a SQLSTATE (57P01), an errno (ECONNREFUSED), postgres.js's (CONNECTION_CLOSED). */
  code?: string;
  /** For a system error, the call that failed (connect, read). */
  syscall?: string;
  /**
   * For an error about an ENCRYPTION_KEYS entry, its id: an id names a key and holds none of it
   * (anything else an error carries as `keyId` is left out).
   */
  keyId?: string;
  cause?: ErrorDescription;
  /** Development only: the outermost error's stack frames, without its message line(s). */
  stack?: string;
}

const MAX_DEPTH = 8;

export function describeError(error: unknown, options: { stack?: boolean } = {}): ErrorDescription {
  const described = describeChain(error, 0);
  if (options.stack && error instanceof Error) {
    const frames = stackFrames(error);
    if (frames) described.stack = frames;
  }
  return described;
}

/**
 * A Redis error reply's kind is the first word of its message, in capitals (RESP: WRONGPASS,
 * NOPERM, NOAUTH, OOM, READONLY…); ioredis gives no code of its own. The rest of the message
 * may quote a key, so only that word is kept.
 */
const REDIS_ERROR_KIND = /^([A-Z][A-Z_]*)(?: |$)/;

function describeChain(error: unknown, depth: number): ErrorDescription {
  if (!(error instanceof Error)) return { type: typeof error };
  const { syscall, cause, keyId } = error as { syscall?: unknown; cause?: unknown; keyId?: unknown };
  let { code } = error as { code?: unknown };
  if (code === undefined && error.name === 'ReplyError') code = REDIS_ERROR_KIND.exec(error.message)?.[1];
  return {
    // drizzle's wrapper keeps the name Error: its class says more.
    type: error.name === 'Error' && error.constructor !== Error ? error.constructor.name : error.name,
    ...(typeof code === 'string' && { code }),
    ...(typeof syscall === 'string' && { syscall }),
    ...(typeof keyId === 'string' && ENCRYPTION_KEY_ID.test(keyId) && { keyId }),
    ...(cause !== undefined && cause !== null && depth + 1 < MAX_DEPTH && { cause: describeChain(cause, depth + 1) }),
  };
}

/** The "    at …" lines after the message (which may span lines, as drizzle's does). */
function stackFrames(error: Error) {
  const stack = error.stack ?? '';
  const afterMessage = error.message && stack.includes(error.message) ? stack.slice(stack.indexOf(error.message) + error.message.length) : stack;
  return afterMessage
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .join('\n');
}
