// Rule: the cache of validated documents is bounded by what its entries hold, the source text
// (comments and whitespace included) among it.
import { parse } from 'graphql';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { boundedDocumentStore, documentSize } from '../../src/graphql/document-store';
import { childEnv, createNamedDatabase, freePort, spawnCommand } from '../helpers/processes';

describe('bounded document store', () => {
  it('counts a document by its source, comments included, not by its JSON form', () => {
    const small = parse('{ __typename }');
    const commented = parse(`{ __typename } # ${'x'.repeat(99_000)}`);
    expect(JSON.stringify(commented).length).toBeLessThan(1000); // what Apollo's default store counts
    expect(documentSize(commented)).toBeGreaterThan(198_000);
    expect(documentSize(small)).toBeLessThan(2_000);
    // A comment is counted by its text and as a small token: 50,000 of them are not 15 MB.
    const manyComments = parse(`{ __typename }\n${'#\n'.repeat(50_000)}`);
    expect(documentSize(manyComments)).toBeGreaterThan(5_000_000);
    expect(documentSize(manyComments)).toBeLessThan(6_000_000);
  });

  it('evicts the least recently used once over its budget, and keeps none larger than the budget', async () => {
    const store = boundedDocumentStore(1_100_000);
    const doc = (i: number) => parse(`{ __typename } # ${i} ${'x'.repeat(99_000)}`);
    for (let i = 0; i < 5; i++) await store.set(`k${i}`, doc(i));
    await store.get('k0'); // now the most recently used
    await store.set('k5', doc(5));
    expect(await store.get('k0')).toBeDefined();
    expect(await store.get('k1')).toBeUndefined();
    expect(await store.get('k5')).toBeDefined();
    await store.set('huge', parse(`{ __typename } # ${'x'.repeat(600_000)}`));
    expect(await store.get('huge')).toBeUndefined();
  });
});

// A gateway of its own with a small heap, on a database of its own: PostgreSQL only (the embedded
// database alone takes more than this heap).
describe.runIf(process.env.DATABASE_URL)('a gateway flooded with unique valid documents, each carrying a 99 KB comment', () => {
  const cleanups: Array<() => unknown> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('keeps serving within a 128 MB heap: its cache of documents does not grow past its budget', { timeout: 120_000 }, async () => {
    const database = await createNamedDatabase({ migrated: true });
    cleanups.push(() => database.drop());
    const port = await freePort();
    const child = spawnCommand(
      process.execPath,
      ['--max-old-space-size=128', '--import', 'tsx', 'src/main.ts'],
      childEnv({ ...database.env, NODE_ENV: 'test', LOG_LEVEL: 'warn', PORT: String(port), ENCRYPTION_KEYS: generateEncryptionKeyEntry('k1') }),
    );
    cleanups.push(() => child.killAll());
    const url = `http://127.0.0.1:${port}`;
    await expect.poll(() => fetch(`${url}/healthz`).then((r) => r.status, () => 0), { timeout: 60_000, interval: 200 }).toBe(200);
    // Apollo's own store counted each of these as ~0.4 KB and kept ~100 KB: the heap ran out
    // after about 1,700 of them (measured, 256 MB heap); 2,000 here.
    const pad = 'x'.repeat(99_000);
    let answered = 0;
    const worker = async (first: number) => {
      for (let i = first; i < 2000; i += 4) {
        const response = await fetch(`${url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: `{ __typename } # ${i} ${pad}` }),
        });
        expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
        answered++;
      }
    };
    await Promise.all([0, 1, 2, 3].map(worker));
    expect(answered).toBe(2000);
    expect(child.stderr()).not.toMatch(/heap/i);
  });
});
