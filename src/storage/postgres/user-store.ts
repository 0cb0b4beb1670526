import { and, asc, eq, sql } from 'drizzle-orm';
import type { NewUser, UserRecord, UserStore } from '../../domain/ports';
import type { Db } from './client';
import { users } from './schema';

type Row = typeof users.$inferSelect;

export const toUser = (r: Row): UserRecord => ({
  id: r.id,
  email: r.email,
  passwordHash: r.passwordHash,
  roles: r.roles,
  disabled: r.disabledAt !== null,
  mfaEnabled: r.mfaEnabled,
  createdAt: r.createdAt,
  sessionEpoch: r.sessionEpoch,
});

export class PostgresUserStore implements UserStore {
  constructor(private readonly db: Db) {}

  async findByEmail(email: string) {
    const [row] = await this.db.select().from(users).where(eq(users.email, email)).limit(1);
    return row ? toUser(row) : null;
  }

  async findById(id: string) {
    const [row] = await this.db.select().from(users).where(eq(users.id, id)).limit(1);
    return row ? toUser(row) : null;
  }

  async findByIds(ids: readonly string[]) {
    if (ids.length === 0) return [];
    // The ids as one JSON parameter, not `IN ($1, …, $n)`: one statement text whatever their
    // number, so each connection prepares it once (client.ts), not once per count up to 1,000.
    const rows = await this.db
      .select()
      .from(users)
      .where(sql`${users.id} IN (SELECT value::uuid FROM json_array_elements_text(${JSON.stringify(ids)}::json))`);
    return rows.map(toUser);
  }

  async insertIfAbsent(user: NewUser) {
    const inserted = await this.db
      .insert(users)
      .values(user)
      .onConflictDoNothing({ target: users.email })
      .returning({ id: users.id });
    return inserted.length === 1;
  }

  async replacePasswordHash(id: string, from: string, to: string) {
    const rows = await this.db
      .update(users)
      .set({ passwordHash: to })
      .where(and(eq(users.id, id), eq(users.passwordHash, from)))
      .returning({ id: users.id });
    return rows.length === 1;
  }

  async setDisabled(id: string, disabledAt: Date | null) {
    await this.db.update(users).set({ disabledAt }).where(eq(users.id, id));
  }

  async list(limit: number, offset: number) {
    const rows = await this.db
      .select()
      .from(users)
      .orderBy(asc(users.createdAt), asc(users.id))
      .limit(limit)
      .offset(offset);
    return rows.map(toUser);
  }
}
