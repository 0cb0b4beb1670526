/** Helpers for the MFA tests: codes are generated with otpauth at the gateway's injected time. */
import { eq } from 'drizzle-orm';
import { Secret, TOTP } from 'otpauth';
import { expect } from 'vitest';
import { ConfirmMfaDocument, EnrollMfaDocument, LoginDocument, VerifyMfaDocument } from '../gql/graphql';
import { sessions } from '../../src/storage/postgres/schema';
import type { TestGateway } from './gateway';

/** The TOTP code of `secret` at `at` (RFC 6238 as authenticator apps do it). */
export const totpAt = (secret: string, at: Date) =>
  new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: at.getTime() });

/** The code the gateway would accept now. */
export const totpNow = (gw: TestGateway, secret: string) => totpAt(secret, gw.clock.now());

/** A well-formed code that is certainly not the current one (nor its neighbours, in practice). */
export const wrongCode = (right: string) => String((Number(right) + 500_000) % 1_000_000).padStart(6, '0');

/** Enrols and confirms MFA for the holder of `accessToken`; returns the secret and recovery codes. */
export async function enableMfa(gw: TestGateway, accessToken: string, password: string) {
  const enrolled = await gw.gql(EnrollMfaDocument, { password }, { token: accessToken });
  expect(enrolled.errors).toBeUndefined();
  const { secret } = enrolled.data!.enrollMfa;
  const confirmed = await gw.gql(ConfirmMfaDocument, { code: totpNow(gw, secret) }, { token: accessToken });
  expect(confirmed.errors).toBeUndefined();
  return { ...enrolled.data!.enrollMfa, recoveryCodes: confirmed.data!.confirmMfa };
}

/** Logs in a user with MFA; returns the challenge (fails the test on anything else). */
export async function challenge(gw: TestGateway, email: string, password: string) {
  const result = await gw.gql(LoginDocument, { email, password });
  expect(result.errors).toBeUndefined();
  const payload = result.data!.login;
  if (payload.__typename !== 'MfaChallenge') throw new Error(`expected an MfaChallenge, got ${payload.__typename}`);
  return payload;
}

/** Both login steps; returns the AuthPayload of verifyMfa. */
export async function loginWithMfa(gw: TestGateway, email: string, password: string, code: string) {
  const { mfaToken } = await challenge(gw, email, password);
  const result = await gw.gql(VerifyMfaDocument, { mfaToken, code });
  expect(result.errors).toBeUndefined();
  return result.data!.verifyMfa;
}

export const sessionCountOf = async (gw: TestGateway, userId: string) =>
  (await gw.database.db.select().from(sessions).where(eq(sessions.userId, userId))).length;
