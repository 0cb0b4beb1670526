// Rule: a key ring signs with the newest key that has activated, from its activatesAt to the
// millisecond, and never with a key older than the one signing when it loaded (should the clock
// step back); it uses and publishes a key until its retiresAt, not at it. Instances starting at
// once on an empty store make one key between them.
import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseEncryptionKeys } from '../../src/config';
import { SecretBox, generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import type { StoredSigningKey } from '../../src/domain/ports';
import { KeyRing, generateStoredKey } from '../../src/domain/tokens/key-ring';
import { PostgresSigningKeyStore } from '../../src/storage/postgres';
import { signingKeys } from '../../src/storage/postgres/schema';
import { recordingAudit } from '../helpers/fixtures';
import { createTestDatabase, type TestDatabase } from '../helpers/gateway';
import { untilWaiting } from '../helpers/sessions';

const box = new SecretBox(parseEncryptionKeys(generateEncryptionKeyEntry('ring')));
const T = new Date('2026-12-07T12:00:00.000Z');
const at = (ms: number) => new Date(T.getTime() + ms);
const HOUR = 3_600_000;

let database: TestDatabase;
beforeEach(async () => {
  database = await createTestDatabase();
});
afterEach(() => database?.drop());

/** Stores an ES256 key, sealed by `box`, active from `activatesAt` until `retiresAt`. */
async function storedKey(activatesAt: Date, retiresAt: Date | null): Promise<StoredSigningKey> {
  const key = { ...(await generateStoredKey(box, 'ES256', activatesAt)), activatesAt, createdAt: activatesAt, retiresAt };
  await database.database.db.insert(signingKeys).values(key);
  return key;
}

const load = (now: Date, audit = recordingAudit().audit) =>
  KeyRing.load(new PostgresSigningKeyStore(database.database.db), box, { now: () => now }, 'ES256', audit);
const publishedKids = (ring: KeyRing) => ring.jwks.keys.map((k) => k.kid);

describe('KeyRing', () => {
  it('switches to a pending key at its activatesAt to the millisecond', async () => {
    const current = await storedKey(at(-HOUR), at(HOUR));
    const pending = await storedKey(at(10 * 60_000), null);
    const ring = await load(T);
    expect(ring.signingKey(at(10 * 60_000 - 1)).kid).toBe(current.kid);
    expect(ring.signingKey(at(10 * 60_000)).kid).toBe(pending.kid);
  });

  it('signs with the key signing at load, not an older one still published, when the clock steps back', async () => {
    const older = await storedKey(at(-48 * HOUR), at(HOUR));
    const current = await storedKey(at(-HOUR), null);
    await storedKey(at(10 * 60_000), null);
    const ring = await load(T);
    expect(publishedKids(ring)).toContain(older.kid);
    expect(ring.signingKey(at(-2 * HOUR)).kid).toBe(current.kid);
  });

  it("publishes each key with the alg its row says, which alone its tokens verify under", async () => {
    const { alg, ...withoutAlg } = (await storedKey(at(-HOUR), null)).publicJwk as Record<string, unknown>;
    expect(alg).toBe('ES256');
    await database.database.db.update(signingKeys).set({ publicJwk: withoutAlg });
    const ring = await load(T);
    expect(ring.jwks.keys.map((k) => k.alg)).toEqual(['ES256']);
    expect(ring.algorithms).toEqual(['ES256']);
  });

  it('publishes a key until its retiresAt, not at it', async () => {
    const retiring = await storedKey(at(-48 * HOUR), T);
    const current = await storedKey(at(-HOUR), null);
    expect(publishedKids(await load(at(-1)))).toEqual(expect.arrayContaining([retiring.kid, current.kid]));
    expect(publishedKids(await load(T))).toEqual([current.kid]);
  });

  it('signs with a key until its retiresAt: at it, a ring with no other key makes one', async () => {
    const only = await storedKey(at(-48 * HOUR), T);
    const { audit, lines } = recordingAudit();
    expect((await load(at(-1), audit)).signingKey(at(-1)).kid).toBe(only.kid);
    expect(lines).toEqual([]);
    const ring = await load(T, audit);
    // The key it made is audited as the gateway's own.
    expect(lines).toEqual([{ event: 'signing key added', by: 'gateway', reason: 'none_could_sign', kid: expect.any(String), alg: 'ES256', activatesAt: T }]);
    const added = lines.map((line) => line.kid);
    expect(ring.signingKey(T).kid).toBe(added[0]);
    expect(publishedKids(ring)).toEqual([added[0]]);
  });

  it.runIf(process.env.DATABASE_URL)('makes one key for two instances starting at once on an empty store (PostgreSQL)', async () => {
    let rings!: Promise<KeyRing[]>;
    await database.database.db.transaction(async (tx) => {
      // The store's lock held: both loads find no key, make one each, and wait to insert it.
      await tx.execute(sql`SELECT pg_advisory_xact_lock(${0x6a776b73})`);
      rings = Promise.all([load(T), load(T)]);
      await untilWaiting(tx, 2);
    });
    const [one, other] = await rings;
    expect(await database.database.db.select().from(signingKeys)).toHaveLength(1);
    expect(publishedKids(one!)).toEqual(publishedKids(other!));
    expect(one!.signingKey(T).kid).toBe(other!.signingKey(T).kid);
  });
});
