// Rule: with KEY_ROTATION_DAYS, a key reload rotates once the newest key is that old, and of several instances due at the same moment exactly one rotates; without the setting nothing rotates by itself.
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { describeKeys } from '../../src/domain/tokens';
import { PostgresSigningKeyStore } from '../../src/storage/postgres';
import { signUp } from '../helpers/fixtures';
import { createTestDatabase, startGateway, type TestDatabase, type TestGateway } from '../helpers/gateway';

const DAY = 86_400;
const encryptionKeys = generateEncryptionKeyEntry('test');
const kidOf = (token: string) => decodeProtectedHeader(token).kid;

describe('KEY_ROTATION_DAYS=2 on three instances sharing one database', () => {
  let database: TestDatabase;
  const gateways: TestGateway[] = [];
  const keysOf = async (gw: TestGateway) => describeKeys(await new PostgresSigningKeyStore(gw.database.db).list(), 'ES256', gw.clock.now());

  beforeAll(async () => {
    database = await createTestDatabase();
    for (let i = 0; i < 3; i++) {
      gateways.push(await startGateway({ database: database.database, encryptionKeys, env: { KEY_ROTATION_DAYS: '2' } }));
    }
  });
  afterAll(async () => {
    await Promise.all(gateways.map((gw) => gw.close()));
    await database?.drop();
  });

  it('does not rotate before the newest key is 2 days old', async () => {
    for (const gw of gateways) gw.clock.advance(2 * DAY - 60);
    await Promise.all(gateways.map((gw) => gw.reloadKeys()));
    expect(await keysOf(gateways[0]!)).toHaveLength(1);
  });

  it('rotates exactly once when all instances are due at the same moment, then signs with the new key after KEY_PUBLISH_AHEAD', async () => {
    const before = kidOf((await signUp(gateways[0]!)).accessToken);
    for (const gw of gateways) gw.clock.advance(120);
    await Promise.all(gateways.map((gw) => gw.reloadKeys()));
    const keys = await keysOf(gateways[0]!);
    expect(keys.map((k) => k.state)).toEqual(['pending', 'signing']);
    // An audit line, from the one instance that rotated.
    const rotatedLines = gateways
      .flatMap((gw) => gw.logs.map((line) => JSON.parse(line) as Record<string, unknown>))
      .filter((line) => line.msg === 'signing key added' && line.reason === 'key_rotation_days');
    expect(rotatedLines).toEqual([expect.objectContaining({ audit: true, by: 'gateway', kid: keys[0]!.kid, alg: 'ES256' })]);

    for (const gw of gateways) gw.clock.advance(gw.config.keys.publishAhead);
    await Promise.all(gateways.map((gw) => gw.reloadKeys()));
    const after = kidOf((await signUp(gateways[1]!)).accessToken);
    expect(after).toBe(keys[0]!.kid);
    expect(after).not.toBe(before);
    expect(await keysOf(gateways[0]!)).toHaveLength(2);
  });
});

describe('KEY_ROTATION_DAYS validation', () => {
  it('refuses a period that a key could not sign in before the next is added (KEY_PUBLISH_AHEAD + ACCESS_TOKEN_TTL + 60 s)', () => {
    const base = { NODE_ENV: 'test', ENCRYPTION_KEYS: encryptionKeys };
    expect(() => loadConfig({ ...base, KEY_ROTATION_DAYS: '1', KEY_PUBLISH_AHEAD: '86400' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, KEY_ROTATION_DAYS: '1', KEY_PUBLISH_AHEAD: '86400' })).toThrow(/KEY_ROTATION_DAYS/);
    expect(loadConfig({ ...base, KEY_ROTATION_DAYS: '1' }).keys.rotationDays).toBe(1);
    expect(() => loadConfig({ ...base, KEY_ROTATION_DAYS: '0' })).toThrow(/KEY_ROTATION_DAYS/);
  });
});

describe('without KEY_ROTATION_DAYS', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(() => gw?.close());

  it('keeps one key however old it gets', async () => {
    gw.clock.advance(400 * DAY);
    await gw.reloadKeys();
    expect(describeKeys(await new PostgresSigningKeyStore(gw.database.db).list(), 'ES256', gw.clock.now())).toHaveLength(1);
  });
});
