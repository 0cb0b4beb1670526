import { domainToASCII } from 'node:url';
import { expect } from 'vitest';
import { LoginDocument, RegisterDocument } from '../gql/graphql';
import type { Audit, AuditEvent, AuditFields } from '../../src/domain/audit';
import type { TestGateway } from './gateway';

export const PASSWORD = 'Plover-Quartz-71!';

let counter = 0;
export const uniqueEmail = (prefix = 'user') => `${prefix}.${process.pid}.${Date.now()}.${counter++}@example.test`;

/** A unique address with non-ASCII letters in its local part and domain (NFC), for the spelling tests. */
export const uniqueAccentedEmail = () => `jos\u00e9.${process.pid}.${Date.now()}.${counter++}@b\u00fccher.test`;

/**
 * Other spellings of `email` (from uniqueAccentedEmail) that read the same: é as e + combining
 * acute (NFD), upper case, full-width letters, the domain's punycode form, a fully qualified domain.
 */
export function spellingsOf(email: string) {
  const [local, domain] = email.split('@') as [string, string];
  return [
    email.normalize('NFD'),
    ` ${email.toUpperCase()} `,
    local.replace('jos', '\uff4a\uff4f\uff53') + '@' + domain,
    `${local}@${domainToASCII(domain)}`,
    `${email}.`,
  ];
}

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

/** An audit function that keeps what it is told, for a use case called directly. */
export function recordingAudit() {
  const lines: Array<{ event: AuditEvent } & AuditFields> = [];
  const audit: Audit = (event, fields) => void lines.push({ event, ...fields });
  return { audit, lines };
}
