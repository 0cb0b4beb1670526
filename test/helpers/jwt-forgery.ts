/**
 * Builds the forged and altered JWTs an attacker would try, from a real token's claims, so
 * each forgery differs from a valid token in exactly one way.
 */
import { decodeJwt, decodeProtectedHeader, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { TestGateway } from './gateway';

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Same signature, different header and/or payload. */
export function tamper(token: string, change: { header?: Record<string, unknown>; payload?: JWTPayload }): string {
  const [, , signature] = token.split('.');
  const header = { ...decodeProtectedHeader(token), ...change.header };
  const payload = { ...decodeJwt(token), ...change.payload };
  return `${b64url(header)}.${b64url(payload)}.${signature}`;
}

/** An unsecured JWT (alg "none", empty signature) carrying the real token's header and claims. */
export function unsecured(token: string, payload: JWTPayload = {}): string {
  const header = { ...decodeProtectedHeader(token), alg: 'none' };
  return `${b64url(header)}.${b64url({ ...decodeJwt(token), ...payload })}.`;
}

export async function fetchJwks(gw: TestGateway): Promise<JSONWebKeySet> {
  const response = await fetch(`${gw.url}/.well-known/jwks.json`);
  if (response.status !== 200) throw new Error(`JWKS answered ${response.status}`);
  return (await response.json()) as JSONWebKeySet;
}

/** Members that only a private (or symmetric) JWK has. */
export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'] as const;
