/**
 * The security events the gateway logs, each with its level: README's "Audit log" table lists
 * the same ones. warn marks what may be an attack in progress (a stolen refresh token), info
 * the rest. The fields are ids, counts, reasons and the client address: never an email, a
 * password, a token, a hash or a code.
 */
export const AUDIT_EVENTS = {
  'user registered': 'info',
  'login succeeded': 'info',
  'password rejected': 'info',
  'mfa code rejected': 'info',
  'refresh token reused': 'warn',
  'refresh refused in grace': 'info',
  'password changed': 'info',
  'logged out': 'info',
  'session revoked': 'info',
  'logged out everywhere': 'info',
  'roles changed': 'info',
  'mfa enabled': 'info',
  'mfa disabled': 'info',
  'mfa recovery codes regenerated': 'info',
  'mfa reset': 'info',
  'user disabled': 'info',
  'user enabled': 'info',
  'sessions revoked': 'info',
  'account unblocked': 'info',
  'signing key added': 'info',
  'signing key retired': 'info',
  'secrets reencrypted': 'info',
  'encryption key forgotten': 'warn',
} as const satisfies Record<string, 'info' | 'warn'>;

export type AuditEvent = keyof typeof AUDIT_EVENTS;

export interface AuditFields {
  userId?: string;
  [key: string]: unknown;
}

/** Writes one log line, synchronously: no await, no query, on any path. */
export type Audit = (event: AuditEvent, fields: AuditFields) => void;
