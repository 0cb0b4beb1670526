import { onTestFinished } from 'vitest';

/**
 * Runs `meanwhile` once, just before `store`'s next call of `method`, which then goes on as
 * called: what happens between a check and the write it leads to. Undone when the test ends.
 */
export function beforeNextCall<T extends object, K extends keyof T>(store: T, method: K, meanwhile: () => Promise<unknown>) {
  const original = store[method] as (...args: unknown[]) => Promise<unknown>;
  const restore = () => {
    store[method] = original as T[K];
  };
  store[method] = (async (...args: unknown[]) => {
    restore();
    await meanwhile();
    return original.apply(store, args);
  }) as T[K];
  onTestFinished(restore);
}
