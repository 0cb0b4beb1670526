// Rule: when UV_THREADPOOL_SIZE is unset, the production launcher gives libuv's pool one thread per
// concurrent password hash plus one; a size the operator set is left alone.
import { describe, expect, it } from 'vitest';
import { defaultHashConcurrency, threadPoolSizeFor } from '../src/thread-pool';

describe('threadPoolSizeFor', () => {
  it('is the default hash concurrency plus one when nothing is set', () => {
    expect(threadPoolSizeFor({})).toBe(defaultHashConcurrency(4) + 1);
  });

  it('follows PASSWORD_HASH_CONCURRENCY', () => {
    expect(threadPoolSizeFor({ PASSWORD_HASH_CONCURRENCY: '1' })).toBe(2);
    expect(threadPoolSizeFor({ PASSWORD_HASH_CONCURRENCY: '6' })).toBe(7);
  });

  it('leaves an invalid PASSWORD_HASH_CONCURRENCY to the settings check, with the default size', () => {
    for (const invalid of ['lots', '1e1', '0x8', ' 6', '6.0']) {
      expect(threadPoolSizeFor({ PASSWORD_HASH_CONCURRENCY: invalid })).toBe(defaultHashConcurrency(4) + 1);
    }
  });

  it('never overrides UV_THREADPOOL_SIZE', () => {
    expect(threadPoolSizeFor({ UV_THREADPOOL_SIZE: '16', PASSWORD_HASH_CONCURRENCY: '2' })).toBeUndefined();
  });
});
