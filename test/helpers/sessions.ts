/** Small helpers for the refresh-token, session and cookie tests. */
import { eq } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import { expect } from 'vitest';
import { LoginDocument, RefreshDocument } from '../gql/graphql';
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
