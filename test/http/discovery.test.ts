// Rule: verifiers discover and cache the public keys: the JWKS is public-members-only, cacheable
// for 300 s with an ETag (304 on a match), and /.well-known/openid-configuration points at it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { startGateway, type TestGateway } from '../helpers/gateway';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway({ env: { JWT_ISSUER: 'https://auth.example.test/', JWT_ALG: 'EdDSA' } });
});
afterAll(() => gw?.close());

describe('GET /.well-known/jwks.json', () => {
  it('is cacheable for 300 s and carries an ETag', async () => {
    const response = await fetch(`${gw.url}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    expect(response.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]{10,}"$/);
    const body = (await response.json()) as { keys: Array<Record<string, unknown>> };
    expect(body.keys).toHaveLength(1);
    expect(body.keys[0]).toMatchObject({ alg: 'EdDSA', use: 'sig', kty: 'OKP' });
    expect(body.keys[0]).not.toHaveProperty('d');
  });

  it('answers 304 with no body when If-None-Match matches (strong or weak), 200 otherwise', async () => {
    const etag = (await fetch(`${gw.url}/.well-known/jwks.json`)).headers.get('etag')!;
    for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const cached = await fetch(`${gw.url}/.well-known/jwks.json`, { headers: { 'if-none-match': header } });
      expect(cached.status, header).toBe(304);
      expect(await cached.text()).toBe('');
      expect(cached.headers.get('etag')).toBe(etag);
    }
    const stale = await fetch(`${gw.url}/.well-known/jwks.json`, { headers: { 'if-none-match': '"stale"' } });
    expect(stale.status).toBe(200);
  });

  it('is the same bytes, and ETag, from an instance that created the key and one that read it back', async () => {
    const encryptionKeys = generateEncryptionKeyEntry('shared');
    const creator = await startGateway({ encryptionKeys, env: { JWT_ALG: 'ES256' } });
    try {
      const reader = await startGateway({ database: creator.database, encryptionKeys, env: { JWT_ALG: 'ES256' } });
      try {
        const [a, b] = await Promise.all([creator, reader].map((g) => fetch(`${g.url}/.well-known/jwks.json`)));
        expect(b!.headers.get('etag')).toBe(a!.headers.get('etag'));
        expect(await b!.text()).toBe(await a!.text());
        // Other keys (another database), another ETag, though every setting is the same: a
        // verifier holding one key set is sent the other.
        const stranger = await startGateway({ env: { JWT_ALG: 'ES256' } });
        try {
          const other = await fetch(`${stranger.url}/.well-known/jwks.json`, { headers: { 'if-none-match': a!.headers.get('etag')! } });
          expect(other.status).toBe(200);
          expect(other.headers.get('etag')).not.toBe(a!.headers.get('etag'));
        } finally {
          await stranger.close();
        }
      } finally {
        await reader.close();
      }
    } finally {
      await creator.close();
    }
  });
});

describe('GET /.well-known/openid-configuration', () => {
  it('names the algorithms of the published keys: during a change of JWT_ALG, both, alike on every instance', async () => {
    const encryptionKeys = generateEncryptionKeyEntry('shared');
    const es256 = await startGateway({ encryptionKeys, env: { JWT_ALG: 'ES256' } });
    try {
      const eddsa = await startGateway({ database: es256.database, encryptionKeys, env: { JWT_ALG: 'EdDSA' } }); // adds an EdDSA key
      try {
        await es256.reloadKeys();
        for (const instance of [es256, eddsa]) {
          const document = (await (await fetch(`${instance.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
          expect(document.id_token_signing_alg_values_supported, instance.config.jwt.alg).toEqual(['ES256', 'EdDSA']);
        }
      } finally {
        await eddsa.close();
      }
    } finally {
      await es256.close();
    }
  });

  it('names the issuer, the JWKS URL and the signing algorithm', async () => {
    const response = await fetch(`${gw.url}/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    const document = (await response.json()) as Record<string, unknown>;
    expect(document).toMatchObject({
      issuer: 'https://auth.example.test/',
      jwks_uri: 'https://auth.example.test/.well-known/jwks.json',
      id_token_signing_alg_values_supported: ['EdDSA'],
    });
  });
});
