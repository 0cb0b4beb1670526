import { expect } from 'vitest';
import { LoginDocument, RegisterDocument } from '../gql/graphql';
import type { TestGateway } from './gateway';

export const PASSWORD = 'Plover-Quartz-71!';

let counter = 0;
export const uniqueEmail = (prefix = 'user') => `${prefix}.${process.pid}.${Date.now()}.${counter++}@example.test`;

/** Registers and logs in; returns the AuthPayload. */
export async function signUp(gw: TestGateway, email = uniqueEmail(), password = PASSWORD) {
  const registered = await gw.gql(RegisterDocument, { email, password });
  expect(registered.errors).toBeUndefined();
  const login = await gw.gql(LoginDocument, { email, password });
  expect(login.errors).toBeUndefined();
  const payload = login.data!.login;
  if (payload.__typename !== 'AuthPayload') throw new Error('expected an AuthPayload');
  return { ...payload, email, password };
}

export const codeOf = (result: { errors?: Array<{ extensions: { code: string } }> }) =>
  result.errors?.[0]?.extensions.code;
