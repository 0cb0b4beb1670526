import { and, asc, eq, gt, inArray, isNull, or, sql } from 'drizzle-orm';
import type { SigningKeyStore, StoredSigningKey } from '../../domain/ports';
import { isUsable, keyCarryingOn } from '../../domain/tokens';
import { ts, type Db } from './client';
import { signingKeys } from './schema';

// Any constant works; it only has to be the same in every instance.
const SIGNING_KEY_LOCK = 0x6a776b73;

export class PostgresSigningKeyStore implements SigningKeyStore {
  constructor(private readonly db: Db) {}

  list(): Promise<StoredSigningKey[]> {
    return this.db.select().from(signingKeys).orderBy(asc(signingKeys.activatesAt));
  }

  async insertIfNoneUsable(candidate: StoredSigningKey, now: Date) {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`);
      const keys = await tx.select().from(signingKeys).orderBy(asc(signingKeys.activatesAt));
      if (keys.some((k) => isUsable(k, candidate.alg, now))) return keys;
      await tx.insert(signingKeys).values(candidate);
      return [...keys, candidate];
    });
  }

  async addRotation(candidate: StoredSigningKey, retireOthersAt: Date, unlessCreatedAfter?: Date) {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`);
      if (unlessCreatedAfter) {
        const [newer] = await tx
          .select({ kid: signingKeys.kid })
          .from(signingKeys)
          .where(and(eq(signingKeys.alg, candidate.alg), gt(signingKeys.createdAt, unlessCreatedAfter), unretired(candidate.createdAt)))
          .limit(1);
        if (newer) return false;
      }
      // Only keys of its algorithm: nothing here knows which algorithm the instances sign with
      // (a rotation ahead of a JWT_ALG change, or by an instance not yet changed, must not
      // retire the keys in use). Another algorithm's keys leave by scheduleRetirement. One that
      // would activate only after the candidate (added with a longer KEY_PUBLISH_AHEAD) leaves
      // by its activation at the latest: it never signs, since its tokens would outlive it.
      await tx
        .update(signingKeys)
        .set({
          retiresAt: sql`CASE WHEN ${signingKeys.activatesAt} >= ${ts(candidate.activatesAt)} THEN LEAST(${signingKeys.activatesAt}, ${ts(retireOthersAt)}) ELSE ${ts(retireOthersAt)} END`,
        })
        .where(and(eq(signingKeys.alg, candidate.alg), isNull(signingKeys.retiresAt)));
      await tx.insert(signingKeys).values(candidate);
      return true;
    });
  }

  async scheduleRetirement(kid: string, at: Date) {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`);
      const rows = await tx
        .update(signingKeys)
        .set({ retiresAt: at })
        .where(and(eq(signingKeys.kid, kid), isNull(signingKeys.retiresAt)))
        .returning({ kid: signingKeys.kid });
      return rows.length === 1;
    });
  }

  async retireSealedUnder(encryptionKeyId: string, now: Date, alg: string) {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`);
      const keys = await tx.select().from(signingKeys).where(unretired(now));
      const given = keys.filter((k) => k.encryptionKeyId === encryptionKeyId).map((k) => k.kid);
      if (given.length === 0) return { retired: [], carriedOnBy: null };
      const carrier = keyCarryingOn(keys, encryptionKeyId, alg, now);
      await tx.update(signingKeys).set({ retiresAt: now }).where(inArray(signingKeys.kid, given));
      if (carrier) await tx.update(signingKeys).set({ retiresAt: null }).where(eq(signingKeys.kid, carrier.kid));
      return { retired: given, carriedOnBy: carrier?.kid ?? null };
    });
  }

  async encryptionKeyIdsInUse(now: Date) {
    const rows = await this.db
      .selectDistinct({ id: signingKeys.encryptionKeyId })
      .from(signingKeys)
      .where(unretired(now));
    return rows.map((r) => r.id);
  }

  async updateCiphertext(kid: string, ciphertext: string, encryptionKeyId: string) {
    await this.db
      .update(signingKeys)
      .set({ privateKeyCiphertext: ciphertext, encryptionKeyId })
      .where(eq(signingKeys.kid, kid));
  }
}

const unretired = (now: Date) => or(isNull(signingKeys.retiresAt), gt(signingKeys.retiresAt, now));
