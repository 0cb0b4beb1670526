// Rule: a stored hash is replaced only when it is weaker than the configured argon2id parameters
// (another argon2 type, or less memory, time or parallelism), never "upgraded" to weaker ones;
// a password longer than any the policy accepts is wrong, and never normalized.
import * as argon2 from 'argon2';
import { describe, expect, it, vi } from 'vitest';
import { MAX_SENT_PASSWORD_UNITS } from '../../src/domain/passwords/check-password-policy';
import { PasswordHasher } from '../../src/domain/passwords/password-hasher';

const limits = { concurrency: 1, queue: 4, perClient: 5 };
const configured = new PasswordHasher({ memoryKib: 19_456, timeCost: 2, parallelism: 1 }, limits);
const hashWith = (type: 0 | 1 | 2, memoryCost: number, timeCost: number, parallelism = 1) =>
  argon2.hash('x', { type, memoryCost, timeCost, parallelism });

describe('needsRehash', () => {
  it('keeps a hash made with exactly the configured parameters', async () => {
    expect(configured.needsRehash(await configured.hash('x'))).toBe(false);
  });

  it('replaces argon2i and argon2d hashes, whatever their parameters', async () => {
    expect(configured.needsRehash(await hashWith(argon2.argon2i, 65_536, 3))).toBe(true);
    expect(configured.needsRehash(await hashWith(argon2.argon2d, 65_536, 3))).toBe(true);
  });

  it('replaces a hash with less memory, fewer iterations or fewer lanes', async () => {
    expect(configured.needsRehash(await hashWith(argon2.argon2id, 8192, 2))).toBe(true);
    expect(configured.needsRehash(await hashWith(argon2.argon2id, 19_456, 1))).toBe(true);
    const twoLanes = new PasswordHasher({ memoryKib: 19_456, timeCost: 2, parallelism: 2 }, limits);
    expect(twoLanes.needsRehash(await hashWith(argon2.argon2id, 19_456, 2, 1))).toBe(true);
  });

  it('keeps a stronger hash instead of downgrading it after the settings were lowered', async () => {
    expect(configured.needsRehash(await hashWith(argon2.argon2id, 65_536, 3))).toBe(false);
  });

  it('replaces something that is not an argon2 hash at all', () => {
    expect(configured.needsRehash('$2b$10$abcdefghijklmnopqrstuv')).toBe(true);
  });
});

describe('verify', () => {
  it('refuses a password longer than any the policy accepts as sent, without normalizing it, though the stored hash is of that very password', async () => {
    const long = 'x'.repeat(MAX_SENT_PASSWORD_UNITS + 1);
    const stored = await argon2.hash(long, { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
    const atTheBound = long.slice(1);
    const storedAtTheBound = await argon2.hash(atTheBound, { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
    expect(await configured.verify(storedAtTheBound, atTheBound)).toBe(true);
    const normalize = vi.spyOn(String.prototype, 'normalize');
    try {
      expect(await configured.verify(stored, long)).toBe(false);
      expect(normalize).not.toHaveBeenCalled();
    } finally {
      normalize.mockRestore();
    }
  });
});
