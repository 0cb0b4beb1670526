// Rule: signing keys live in the database only sealed under ENCRYPTION_KEYS, are shared by every instance on that database, and are published (public members only) as a JWKS that verifies the tokens for every JWT_ALG.
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeDocument, RefreshDocument } from '../gql/graphql';
import { codeOf, signUp } from '../helpers/fixtures';
import { createTestDatabase, startGateway, type TestDatabase, type TestGateway } from '../helpers/gateway';
import { fetchJwks, PRIVATE_JWK_MEMBERS } from '../helpers/jwt-forgery';
import { parseEncryptionKeys } from '../../src/config';
import { generateEncryptionKeyEntry, SecretBox, SecretDoesNotOpenError } from '../../src/domain/crypto/secret-box';
import { signingKeys } from '../../src/storage/postgres/schema';

async function expectVerifiesAgainstJwks(gw: TestGateway, alg: string) {
  const user = await signUp(gw);
  expect(decodeProtectedHeader(user.accessToken)).toMatchObject({ alg, typ: 'at+jwt' });
  const jwks = await fetchJwks(gw);
  for (const key of jwks.keys) {
    for (const member of PRIVATE_JWK_MEMBERS) expect(key).not.toHaveProperty(member);
  }
  const { payload } = await jwtVerify(user.accessToken, createLocalJWKSet(jwks), {
    algorithms: [alg],
    issuer: gw.config.jwt.issuer,
    audience: gw.config.jwt.audience,
    typ: 'at+jwt',
  });
  expect(payload.sub).toBe(user.user.id);
  expect(payload.exp! - payload.iat!).toBe(gw.config.jwt.accessTokenTtl);
}

// Every gateway in this file shares one database (as instances of one deployment would).
const keys = generateEncryptionKeyEntry('primary');
let shared: TestDatabase;
let a: TestGateway;
let b: TestGateway;
beforeAll(async () => {
  shared = await createTestDatabase();
  a = await startGateway({ database: shared.database, encryptionKeys: keys });
  b = await startGateway({ database: shared.database, encryptionKeys: keys });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
  await shared?.drop();
});

describe('two gateways on one database', () => {

  it('stores the private key only sealed: the ciphertext is not JSON and holds no "d"', async () => {
    const rows = (await a.database.db.select().from(signingKeys)).filter((r) => r.alg === 'ES256');
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row!.encryptionKeyId).toBe('primary');
    expect(() => JSON.parse(row!.privateKeyCiphertext)).toThrow();
    expect(() => JSON.parse(Buffer.from(row!.privateKeyCiphertext, 'base64').toString('utf8'))).toThrow();

    // The sealed value really is the private key: open it with the configured keys.
    const box = new SecretBox(parseEncryptionKeys(keys));
    const privateJwk = JSON.parse(box.open({ ciphertext: row!.privateKeyCiphertext, keyId: 'primary' }, row!.kid)) as JWK;
    expect(privateJwk.d).toEqual(expect.any(String));
    expect(privateJwk.x).toBe(row!.publicJwk.x);

    const stored = JSON.stringify(row);
    expect(stored).not.toContain(privateJwk.d);
    expect(Buffer.from(row!.privateKeyCiphertext, 'base64').toString('latin1')).not.toContain(privateJwk.d);
    expect(row!.publicJwk).not.toHaveProperty('d');
    expect(a.logs.join('')).not.toContain(privateJwk.d);
  });

  it('publishes the same kid from both and each accepts the other\'s tokens', async () => {
    const [jwksA, jwksB] = await Promise.all([fetchJwks(a), fetchJwks(b)]);
    expect(jwksA.keys.map((k) => k.kid)).toEqual(jwksB.keys.map((k) => k.kid));
    expect(a.deps.keys.signingKey(a.clock.now()).kid).toBe(b.deps.keys.signingKey(b.clock.now()).kid);

    const fromA = await signUp(a);
    const meOnB = await b.gql(MeDocument, {}, { token: fromA.accessToken });
    expect(meOnB.errors).toBeUndefined();
    expect(meOnB.data?.me.id).toBe(fromA.user.id);

    const refreshedOnB = await b.gql(RefreshDocument, { refreshToken: fromA.refreshToken });
    expect(refreshedOnB.errors).toBeUndefined();
    const meOnA = await a.gql(MeDocument, {}, { token: refreshedOnB.data!.refresh.accessToken });
    expect(meOnA.data?.me.id).toBe(fromA.user.id);
  });

  it('starts with the key moved to second place (all entries decrypt) and signs with the same kid', async () => {
    const rotated = `${generateEncryptionKeyEntry('newer')},${keys}`;
    const c = await startGateway({ database: shared.database, encryptionKeys: rotated });
    try {
      expect(c.deps.keys.signingKey(c.clock.now()).kid).toBe(a.deps.keys.signingKey(a.clock.now()).kid);
      const user = await signUp(c);
      expect(codeOf(await a.gql(MeDocument, {}, { token: user.accessToken }))).toBeUndefined();
    } finally {
      await c.close();
    }
  });

  it('refuses to start with other ENCRYPTION_KEYS: an unknown key id or the same id with other bytes', async () => {
    await expect(
      startGateway({ database: shared.database, encryptionKeys: generateEncryptionKeyEntry('other') }),
    ).rejects.toThrow(/encryption key/i);
    await expect(
      startGateway({ database: shared.database, encryptionKeys: generateEncryptionKeyEntry('primary') }),
    ).rejects.toThrow(SecretDoesNotOpenError);
    // Neither failed start replaced the key.
    const rows = (await a.database.db.select().from(signingKeys)).filter((r) => r.alg === 'ES256');
    expect(rows.map((r) => r.kid)).toEqual([a.deps.keys.signingKey(a.clock.now()).kid]);
  });
});

describe('JWT_ALG', () => {
  it('ES256 (the default): tokens verify against the published JWKS, which has public members only', async () => {
    expect(a.config.jwt.alg).toBe('ES256');
    await expectVerifiesAgainstJwks(a, 'ES256');
  });

  for (const alg of ['EdDSA', 'RS256']) {
    it(`${alg}: tokens verify against the published JWKS, which has public members only`, async () => {
      const gw = await startGateway({
        database: shared.database,
        encryptionKeys: keys,
        env: { JWT_ALG: alg, ACCESS_TOKEN_TTL: '120' },
      });
      try {
        await expectVerifiesAgainstJwks(gw, alg);
        const row = (await gw.database.db.select().from(signingKeys)).find((r) => r.alg === alg);
        expect(row?.kid).toBe(gw.deps.keys.signingKey(gw.clock.now()).kid);
        expect(() => JSON.parse(row!.privateKeyCiphertext)).toThrow();
      } finally {
        await gw.close();
      }
    });
  }
});
