/** Small helpers for the refresh-token, session and cookie tests. */
import { eq, sql } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import { expect } from 'vitest';
import { LoginDocument, RefreshDocument } from '../gql/graphql';
import { queryRows } from '../../src/storage/postgres/client';
import { refreshTokens, sessions } from '../../src/storage/postgres/schema';
import { codeOf } from './fixtures';
import type { RequestOptions, TestGateway } from './gateway';

/** Logs in (a new session) and returns the AuthPayload; fails the test on anything else. */
export async function logIn(gw: TestGateway, email: string, password: string, options?: RequestOptions) {
  const result = await gw.gql(LoginDocument, { email, password }, options);
  expect(result.errors).toBeUndefined();
  const payload = result.data!.login;
  if (payload.__typename !== 'AuthPayload') throw new Error('expected an AuthPayload');
  return { ...payload, headers: result.headers };
}

/** Refreshes with `token` and expects success; returns the new payload. */
export async function rotate(gw: TestGateway, token: string | null | undefined, options?: RequestOptions) {
  const result = await gw.gql(RefreshDocument, { refreshToken: token }, options);
  expect(result.errors).toBeUndefined();
  return { ...result.data!.refresh, headers: result.headers };
}

/** The error code a refresh with `token` answers (undefined on success). */
export async function refreshCode(gw: TestGateway, token: string | null | undefined, options?: RequestOptions) {
  return codeOf(await gw.gql(RefreshDocument, { refreshToken: token }, options));
}

/** The session (refresh-token family) an access token belongs to. */
export const sessionIdOf = (accessToken: string) => decodeJwt(accessToken).sid as string;

export const tokenRowsOf = (gw: TestGateway, sessionId: string) =>
  gw.database.db.select().from(refreshTokens).where(eq(refreshTokens.sessionId, sessionId));

export async function sessionRowOf(gw: TestGateway, sessionId: string) {
  const [row] = await gw.database.db.select().from(sessions).where(eq(sessions.id, sessionId));
  return row!;
}

export type Tx = Parameters<Parameters<TestGateway['database']['db']['transaction']>[0]>[0];

/** Resolves once `count` statements on this test's database wait for a lock. */
export async function untilWaiting(tx: Tx, count: number) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    await tx.execute(sql`SELECT pg_stat_clear_snapshot()`);
    const [waiting] = await queryRows<{ n: number }>(
      tx,
      sql`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE NOT l.granted AND a.datname = current_database()`,
    );
    if (waiting!.n >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${waiting!.n} of ${count} statements wait for a lock`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
