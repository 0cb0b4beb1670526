/**
 * Development convenience only: when ENCRYPTION_KEYS is unset (never in production, which
 * refuses to start), keys are generated once into DATA_DIR and read from there afterwards.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEVELOPMENT_KEY_ID, parseEncryptionKeys, type EncryptionKey } from '../config';
import { generateEncryptionKeyEntry } from '../domain/crypto';

const ENCRYPTION_KEYS_FILE = 'encryption-keys';

export function loadOrCreateDevEncryptionKeys(dataDir: string): { keys: EncryptionKey[]; created: boolean; file: string } {
  const file = path.resolve(dataDir, ENCRYPTION_KEYS_FILE);
  if (existsSync(file)) {
    return { keys: parseEncryptionKeys(readFileSync(file, 'utf8').trim(), file), created: false, file };
  }
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, generateEncryptionKeyEntry(DEVELOPMENT_KEY_ID) + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return { keys: parseEncryptionKeys(readFileSync(file, 'utf8').trim(), file), created: true, file };
}
