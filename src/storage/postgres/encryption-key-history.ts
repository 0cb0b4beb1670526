import { desc, eq, gt, sql } from 'drizzle-orm';
import type { EncryptionKeyHistory } from '../../domain/ports';
import { ts, type Db } from './client';
import { encryptionKeyHistory } from './schema';

/**
 * A key that becomes current is the latest current key even when this clock is behind another
 * instance's: just after the latest recorded, if `at` is not later.
 */
const latestFrom = (at: Date) => sql`(SELECT GREATEST(${ts(at)}, max(current_since) + interval '1 millisecond') FROM encryption_key_history)`;

export class PostgresEncryptionKeyHistory implements EncryptionKeyHistory {
  constructor(private readonly db: Db) {}

  async wasCurrent(keyId: string) {
    const recorded = await this.db.select({ keyId: encryptionKeyHistory.keyId }).from(encryptionKeyHistory);
    return recorded.length === 0 ? undefined : recorded.some((row) => row.keyId === keyId);
  }

  async recordCurrent(keyId: string, at: Date) {
    // Read first: a start (the usual one) that finds its key recorded writes nothing.
    const [known] = await this.db.select({ keyId: encryptionKeyHistory.keyId }).from(encryptionKeyHistory).where(eq(encryptionKeyHistory.keyId, keyId));
    if (!known) {
      await this.db.execute(
        sql`INSERT INTO encryption_key_history (key_id, current_since) VALUES (${keyId}, ${latestFrom(at)}) ON CONFLICT (key_id) DO NOTHING`,
      );
    }
    return this.laterThan(keyId);
  }

  laterThan(keyId: string) {
    return this.db
      .select()
      .from(encryptionKeyHistory)
      .where(gt(encryptionKeyHistory.currentSince, sql`(SELECT current_since FROM encryption_key_history WHERE key_id = ${keyId})`))
      .orderBy(desc(encryptionKeyHistory.currentSince));
  }

  async markCurrent(keyId: string, at: Date) {
    await this.db.execute(
      sql`INSERT INTO encryption_key_history (key_id, current_since) VALUES (${keyId}, ${latestFrom(at)})
          ON CONFLICT (key_id) DO UPDATE SET current_since = excluded.current_since`,
    );
  }
}
