// Rule: a cached token verification answers only before the token's exp and only under the keys it was verified with (a ring publishing the same keys keeps it); the cache stays within its bound and never shares a mutable claim.
import { describe, expect, it } from 'vitest';
import type { KeyRing } from '../../src/domain/tokens';
import { VerifiedTokenCache } from '../../src/domain/tokens';

// The cache compares rings by the keys they publish (KeyRing.verificationId) and nothing else.
const ring = { verificationId: 'kid-a' } as KeyRing;
const reloaded = { verificationId: 'kid-a kid-b' } as KeyRing;
const claims = () => ({ userId: 'u', sessionId: 's', roles: ['user'], amr: ['pwd'] });
const at = (ms: number) => new Date(ms);

describe('VerifiedTokenCache', () => {
  it('answers until the token expires, never at or after its exp', () => {
    const cache = new VerifiedTokenCache(10);
    cache.set(ring, 'token', claims(), 10_000);
    expect(cache.get(ring, 'token', at(9_999))).toEqual(claims());
    expect(cache.get(ring, 'token', at(10_000))).toBeUndefined();
    // An expired entry is gone, not merely hidden.
    expect(cache.size).toBe(0);
  });

  it('keeps its entries across a reload that publishes the same keys', () => {
    const cache = new VerifiedTokenCache(10);
    cache.set(ring, 'a', claims(), 10_000);
    expect(cache.get({ verificationId: 'kid-a' } as KeyRing, 'a', at(0))).toEqual(claims());
  });

  it('forgets every entry when the published keys change', () => {
    const cache = new VerifiedTokenCache(10);
    cache.set(ring, 'a', claims(), 10_000);
    cache.set(ring, 'b', claims(), 10_000);
    expect(cache.get(reloaded, 'a', at(0))).toBeUndefined();
    expect(cache.get(ring, 'b', at(0))).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps at most maxEntries, dropping the least recently used', () => {
    const cache = new VerifiedTokenCache(2);
    cache.set(ring, 'a', claims(), 10_000);
    cache.set(ring, 'b', claims(), 10_000);
    expect(cache.get(ring, 'a', at(0))).toBeDefined(); // b is now the least recently used
    cache.set(ring, 'c', claims(), 10_000);
    expect(cache.size).toBe(2);
    expect(cache.get(ring, 'b', at(0))).toBeUndefined();
    expect(cache.get(ring, 'a', at(0))).toBeDefined();
    expect(cache.get(ring, 'c', at(0))).toBeDefined();
  });

  it('stores nothing with a size of 0', () => {
    const cache = new VerifiedTokenCache(0);
    cache.set(ring, 'a', claims(), 10_000);
    expect(cache.get(ring, 'a', at(0))).toBeUndefined();
  });

  it('hands out claims nobody can change', () => {
    const cache = new VerifiedTokenCache(10);
    cache.set(ring, 'a', claims(), 10_000);
    const cached = cache.get(ring, 'a', at(0))!;
    expect(() => cached.roles.push('admin')).toThrow(TypeError);
    expect(() => cached.amr.push('otp')).toThrow(TypeError);
    expect(() => Object.assign(cached, { userId: 'someone-else' })).toThrow(TypeError);
    expect(cache.get(ring, 'a', at(0))).toEqual(claims());
  });

  it('takes up the new keys when emptied by expiry before they change: it keeps caching', () => {
    const cache = new VerifiedTokenCache(10);
    cache.set(ring, 'a', claims(), 10_000);
    expect(cache.get(ring, 'a', at(10_000))).toBeUndefined(); // expired: the cache is empty
    expect(cache.get(reloaded, 'x', at(10_001))).toBeUndefined(); // a request under the new keys
    cache.set(reloaded, 'b', claims(), 20_000);
    expect(cache.get(reloaded, 'b', at(10_002))).toEqual(claims());
  });

  it('keeps nothing verified under a ring replaced meanwhile, and does not empty itself for it', () => {
    const cache = new VerifiedTokenCache(10);
    const newer = { verificationId: 'kid-b' } as KeyRing;
    expect(cache.get(newer, 'x', at(0))).toBeUndefined(); // a request under the new ring
    cache.set(newer, 'fresh', claims(), 10_000);
    cache.set(ring, 'late', claims(), 10_000); // a verification that began before the reload
    expect(cache.get(newer, 'fresh', at(0))).toBeDefined();
    expect(cache.get(newer, 'late', at(0))).toBeUndefined();
  });
});
