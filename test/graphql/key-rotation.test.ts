// Rule: signing keys rotate without downtime: a new key is published at once and signs only
// after KEY_PUBLISH_AHEAD; the old one stays published until its tokens have expired (TTL + 60 s)
// and then leaves; running instances pick the change up within KEY_RELOAD_SECONDS.
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEncryptionKeys } from '../../src/config';
import { SecretBox, generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { describeKeys, rotateSigningKey } from '../../src/domain/tokens';
import { PostgresSigningKeyStore } from '../../src/storage/postgres';
import { MeDocument } from '../gql/graphql';
import { codeOf, signUp } from '../helpers/fixtures';
import { createTestDatabase, startGateway, type TestDatabase, type TestGateway } from '../helpers/gateway';
import { childEnv, createNamedDatabase, runTsx, type NamedDatabase } from '../helpers/processes';

const encryptionKeys = generateEncryptionKeyEntry('test');
let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database?.drop());

const kidsOf = async (gw: TestGateway) =>
  ((await (await fetch(`${gw.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid).sort();
const kidOf = (token: string) => decodeProtectedHeader(token).kid;

function rotate(gw: TestGateway) {
  return rotateSigningKey(
    { signingKeys: new PostgresSigningKeyStore(gw.database.db), box: new SecretBox(parseEncryptionKeys(encryptionKeys)), clock: gw.clock },
    { alg: gw.config.jwt.alg, publishAhead: gw.config.keys.publishAhead, accessTokenTtl: gw.config.jwt.accessTokenTtl },
  );
}

describe('keys rotate', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ database: database.database, encryptionKeys });
  });
  afterAll(() => gw?.close());

  it('publishes the new key at once, signs with it after KEY_PUBLISH_AHEAD, retires the old one after TTL + 60 s', async () => {
    const before = await signUp(gw);
    const oldKid = kidOf(before.accessToken)!;
    const added = await rotate(gw);
    await gw.reloadKeys();
    expect(await kidsOf(gw)).toEqual([oldKid, added.kid].sort());
    expect(kidOf((await signUp(gw)).accessToken)).toBe(oldKid); // still pending
    expect(describeKeys(await new PostgresSigningKeyStore(gw.database.db).list(), 'ES256', gw.clock.now()).map((k) => k.state)).toEqual([
      'pending',
      'signing',
    ]);

    gw.clock.advance(600); // KEY_PUBLISH_AHEAD
    await gw.reloadKeys();
    const after = await signUp(gw);
    expect(kidOf(after.accessToken)).toBe(added.kid);
    expect(codeOf(await gw.gql(MeDocument, {}, { token: before.accessToken }))).toBeUndefined(); // old tokens still verify

    gw.clock.advance(900 + 60); // every token of the old key has expired
    await gw.reloadKeys();
    expect(await kidsOf(gw)).toEqual([added.kid]);
    const latest = await signUp(gw);
    expect(kidOf(latest.accessToken)).toBe(added.kid);
    expect(codeOf(await gw.gql(MeDocument, {}, { token: latest.accessToken }))).toBeUndefined();
  });
});

describe('a running instance', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ database: database.database, encryptionKeys, env: { KEY_RELOAD_SECONDS: '1' } });
  });
  afterAll(() => gw?.close());

  it('publishes a key rotated elsewhere within KEY_RELOAD_SECONDS, without a restart', async () => {
    const added = await rotate(gw);
    const deadline = Date.now() + 3000;
    while (!(await kidsOf(gw)).includes(added.kid)) {
      if (Date.now() > deadline) throw new Error('the rotated key was not published within 3 s (KEY_RELOAD_SECONDS=1)');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
});

describe('npm run admin -- keys', () => {
  let named: NamedDatabase;
  beforeAll(async () => {
    named = await createNamedDatabase({ migrated: true });
  });
  afterAll(() => named?.drop());

  const admin = (args: string[]) => runTsx('src/cli/admin.ts', args, childEnv({ ...named.env, ENCRYPTION_KEYS: encryptionKeys }));

  it('rotate adds a pending key and list shows each state; anything else is a usage error', async () => {
    const first = await admin(['keys', 'rotate']);
    expect(first.code, first.stderr).toBe(0);
    const second = await admin(['keys', 'rotate']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/^added \S+ \(ES256\): published now, signs from /m);
    const kid = /^added (\S+)/m.exec(second.stdout)![1];
    const audit = second.stderr.split('\n').filter((line) => line.includes('"audit":true')).map((line) => JSON.parse(line));
    expect(audit).toEqual([expect.objectContaining({ level: 30, msg: 'signing key added', by: 'admin-cli', kid, alg: 'ES256' })]);
    const list = await admin(['keys', 'list']);
    expect(list.code, list.stderr).toBe(0);
    const states = list.stdout.trim().split('\n').map((line) => line.split(/\s+/)[2]);
    // Both pending (published ahead); the first retires when the second activates.
    expect(states).toEqual(['pending', 'pending']);
    expect((await admin(['keys', 'delete'])).code).toBe(2);
  }, 60_000);
});
