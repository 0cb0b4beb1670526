export { openEmbedded, openPostgres, migrationsFolder, type Database, type Db } from './client';
export { PostgresUserStore } from './user-store';
export { PostgresSessionStore } from './session-store';
export { PostgresSigningKeyStore } from './signing-key-store';
export { PostgresMfaStore } from './mfa-store';
export { readDefaultIsolation, readSchemaStatus, type SchemaStatus } from './schema-status';
export type { CanonicalEmailsReport } from './canonical-emails';
export { PostgresEncryptionKeyHistory } from './encryption-key-history';
