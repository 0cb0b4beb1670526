/**
 * Shared start-up for the server and the admin CLI: settings → encryption keys → database.
 */
import type { Logger } from 'pino';
import type { Config, EncryptionKey } from './config';
import { loadOrCreateDevEncryptionKeys } from './storage/encryption-keys-file';
import { openEmbedded, openPostgres, type Database } from './storage/postgres';

export async function openConfiguredDatabase(config: Config, logger: Logger): Promise<Database> {
  if (config.databaseUrl) return openPostgres(config.databaseUrl);
  const database = await openEmbedded(config.dataDir);
  logger.warn({ dataDir: config.dataDir }, 'using the embedded database (PGlite): for development only');
  return database;
}

export function resolveEncryptionKeys(config: Config, logger: Logger): EncryptionKey[] {
  if (config.encryptionKeys) return config.encryptionKeys;
  // config.ts has already refused production without ENCRYPTION_KEYS.
  const { keys, created, file } = loadOrCreateDevEncryptionKeys(config.dataDir);
  logger.warn({ file, created }, 'ENCRYPTION_KEYS unset: using development keys from DATA_DIR');
  return keys;
}
