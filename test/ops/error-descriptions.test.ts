// Rule: a log line describes an error by its kind and the driver's code along its cause chain
// (never a message, which may quote values), bounded however the chain loops; the one line a
// failed start or command prints may show a driver's message, but never a URL's credentials.
import { describe, expect, it } from 'vitest';
import { describeError } from '../../src/describe-error';
import { describeFailure } from '../../src/failure';

const withCode = (error: Error, fields: Record<string, unknown>) => Object.assign(error, fields);

describe('describeError (log lines)', () => {
  it('keeps the errno and the call of a system error, not its message', () => {
    const refused = withCode(new Error('connect ECONNREFUSED 10.0.0.7:5432'), { code: 'ECONNREFUSED', syscall: 'connect' });
    expect(describeError(refused)).toEqual({ type: 'Error', code: 'ECONNREFUSED', syscall: 'connect' });
  });

  it("keeps a Redis reply's kind only when its first word is one (capitals), never the rest", () => {
    const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });
    expect(describeError(reply("NOPERM this user has no permissions to access the 'gw:rl:login:alice@example.test' key"))).toEqual({ type: 'ReplyError', code: 'NOPERM' });
    expect(describeError(reply('OOM'))).toEqual({ type: 'ReplyError', code: 'OOM' });
    expect(describeError(reply('user:alice@example.test is not allowed'))).toEqual({ type: 'ReplyError' });
    expect(describeError(reply('Nope, alice@example.test'))).toEqual({ type: 'ReplyError' });
  });

  it('keeps a keyId that is an ENCRYPTION_KEYS id, and nothing else under that name', () => {
    expect(describeError(withCode(new Error('x'), { keyId: 'k1' }))).toEqual({ type: 'Error', keyId: 'k1' });
    const entry = `k1:${'A'.repeat(43)}=`;
    expect(describeError(withCode(new Error('x'), { keyId: entry }))).toEqual({ type: 'Error' });
  });

  it('follows a cause chain that loops no further than eight errors', () => {
    const looping = new Error('a');
    (looping as { cause?: unknown }).cause = looping;
    let depth = 0;
    for (let level: { cause?: unknown } | undefined = describeError(looping); level; level = level.cause as typeof level) depth++;
    expect(depth).toBe(8);
  });
});

describe('describeFailure (the one line a failed start prints)', () => {
  it('takes the credentials out of every URL in a message, and adds the code it lacks', () => {
    const error = withCode(new Error('could not reach redis://gateway:S3cret@cache.internal:6379 nor rediss://:p%40ss@replica:6380'), { code: 'ECONNREFUSED' });
    const line = describeFailure(error);
    expect(line).toBe('could not reach redis://…@cache.internal:6379 nor rediss://…@replica:6380 (ECONNREFUSED)');
    expect(describeFailure(withCode(new Error('Connection terminated'), { code: 'CONNECTION_ENDED' }))).toBe('Connection terminated (CONNECTION_ENDED)');
    expect(describeFailure(withCode(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe('connect ECONNREFUSED 127.0.0.1:5432');
  });
});
