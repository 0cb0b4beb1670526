/**
 * Brings the emails an earlier version stored to the one spelling this version looks them up
 * by (canonicalEmail: NFKC, the domain as IDNA maps it, no trailing dot…): a row left in
 * another spelling would be found by no login, and its spelling could be registered anew by
 * someone else. Part of every migration (`npm run db:migrate`, and each start of the embedded
 * database), after the schema's, under the migration lock; when there is nothing to do it costs
 * one scan of the table.
 */
import { and, eq, ne, notExists, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { canonicalEmail } from '../../domain/auth/normalize-email';
import { queryRows, type Db } from './client';
import { users } from './schema';

export interface CanonicalEmailsReport {
  /** Rows now stored in the canonical spelling. */
  changed: number;
  /** Ids of rows whose canonical spelling another account already has: no login reaches them. */
  taken: string[];
  /** Ids of rows that are no valid address any more (an invisible character, an empty label…). */
  invalid: string[];
}

// Plain lower-case ASCII addresses whose last label starts with a letter, without punycode, are
// canonical already; the rest is looked at.
const PLAIN = '^[a-z0-9._+-]+@([a-z0-9_-]+\\.)+[a-z_-][a-z0-9_-]*$';

export async function canonicalizeStoredEmails(db: Db): Promise<CanonicalEmailsReport> {
  const candidates = await queryRows<{ id: string; email: string }>(
    db,
    sql`SELECT id, email FROM users WHERE email !~ ${PLAIN} OR email LIKE '%xn--%' ORDER BY created_at, id`,
  );
  const report: CanonicalEmailsReport = { changed: 0, taken: [], invalid: [] };
  const other = alias(users, 'other');
  for (const { id, email } of candidates) {
    const canonical = canonicalEmail(email);
    if (canonical === email) continue;
    if (canonical === null) {
      report.invalid.push(id);
      continue;
    }
    const updated = await db
      .update(users)
      .set({ email: canonical })
      .where(and(eq(users.id, id), notExists(db.select({ one: sql`1` }).from(other).where(and(eq(other.email, canonical), ne(other.id, id))))))
      .returning({ id: users.id });
    if (updated.length > 0) report.changed++;
    else report.taken.push(id);
  }
  return report;
}
