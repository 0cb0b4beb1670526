// Rule: signing keys rotate without downtime: a new key is published at once and signs only
// after KEY_PUBLISH_AHEAD, on every instance from that moment on, whenever it last reloaded; the
// old one stays published until its tokens have expired (TTL + 60 s + KEY_RELOAD_SECONDS, enough
// for one failed reload) and then leaves; running instances pick the change up within
// KEY_RELOAD_SECONDS.
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEncryptionKeys } from '../../src/config';
import { SecretBox, generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { describeKeys, generateStoredKey, retireSigningKey, rotateSigningKey, rotateSigningKeyIfDue } from '../../src/domain/tokens';
import type { StoredSigningKey } from '../../src/domain/ports';
import { PostgresSigningKeyStore } from '../../src/storage/postgres';
import { signingKeys } from '../../src/storage/postgres/schema';
import { MeDocument, RefreshDocument } from '../gql/graphql';
import { codeOf, recordingAudit, signUp } from '../helpers/fixtures';
import { createTestDatabase, startGateway, type TestDatabase, type TestGateway } from '../helpers/gateway';
import { childEnv, createNamedDatabase, runTsx, type NamedDatabase } from '../helpers/processes';
import { rotate as rotateRefresh } from '../helpers/sessions';

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
    { signingKeys: new PostgresSigningKeyStore(gw.database.db), box: new SecretBox(parseEncryptionKeys(encryptionKeys)), clock: gw.clock, audit: recordingAudit().audit },
    { alg: gw.config.jwt.alg, publishAhead: gw.config.keys.publishAhead, accessTokenTtl: gw.config.jwt.accessTokenTtl, reloadSeconds: gw.config.keys.reloadSeconds },
  );
}

describe('forgetting the encryption key of a pending rotation', () => {
  const settings = { alg: 'ES256' as const, publishAhead: 600, accessTokenTtl: 900, reloadSeconds: 60 };
  const kept = new SecretBox(parseEncryptionKeys(encryptionKeys));
  const lost = new SecretBox(parseEncryptionKeys(generateEncryptionKeyEntry('lost')));
  const at = (now: Date) => ({ now: () => now });
  /** A store on a database of its own, with one key sealed under the kept key, made at `madeAt`. */
  async function withKeys(madeAt: Date, alg: 'ES256' | 'EdDSA', test: (store: PostgresSigningKeyStore, current: StoredSigningKey) => Promise<void>) {
    const own = await createTestDatabase();
    try {
      const store = new PostgresSigningKeyStore(own.database.db);
      const [current] = await store.insertIfNoneUsable(await generateStoredKey(kept, alg, madeAt), madeAt);
      await test(store, current!);
    } finally {
      await own.drop();
    }
  }
  const stateOf = async (store: PostgresSigningKeyStore, alg: string, now: Date) => new Map(describeKeys(await store.list(), alg, now).map((k) => [k.kid, k]));

  it('leaves the key it was to replace signing, not retiring on that rotation\'s schedule; a later rotation keeps its own', async () => {
    const now = new Date();
    await withKeys(now, 'ES256', async (store, current) => {
      const pending = await rotateSigningKey({ signingKeys: store, box: lost, clock: at(now), audit: recordingAudit().audit }, settings);
      expect((await stateOf(store, 'ES256', now)).get(current.kid)!.retiresAt).not.toBeNull(); // leaving for the pending key

      expect(await store.retireSealedUnder('lost', now, 'ES256')).toEqual({ retired: [pending.kid], carriedOnBy: current.kid });
      const after = await stateOf(store, 'ES256', now);
      expect(after.get(pending.kid)!.state).toBe('retired');
      expect(after.get(current.kid)).toMatchObject({ state: 'signing', retiresAt: null });

      // With a later rotation under a key still held, the current key leaves for that one.
      const lostAgain = await rotateSigningKey({ signingKeys: store, box: lost, clock: at(now), audit: recordingAudit().audit }, settings);
      const later = await rotateSigningKey({ signingKeys: store, box: kept, clock: at(new Date(now.getTime() + 1000)), audit: recordingAudit().audit }, settings);
      expect(await store.retireSealedUnder('lost', now, 'ES256')).toEqual({ retired: [lostAgain.kid], carriedOnBy: null });
      const last = await stateOf(store, 'ES256', now);
      expect(last.get(current.kid)!.retiresAt).not.toBeNull();
      expect(last.get(later.kid)).toMatchObject({ state: 'pending', retiresAt: null });
    });
  });

  it('keeps a key of an algorithm the gateway no longer signs with leaving as scheduled', async () => {
    const now = new Date();
    await withKeys(now, 'ES256', async (store, previous) => {
      const pending = await rotateSigningKey({ signingKeys: store, box: lost, clock: at(now), audit: recordingAudit().audit }, settings);
      // JWT_ALG changed to EdDSA since: its first start made a key of its own.
      const [, , eddsa] = await store.insertIfNoneUsable(await generateStoredKey(kept, 'EdDSA', now), now);
      expect(await store.retireSealedUnder('lost', now, 'EdDSA')).toEqual({ retired: [pending.kid], carriedOnBy: null });
      const after = await stateOf(store, 'EdDSA', now);
      expect(after.get(previous.kid)).toMatchObject({ state: 'retiring', retiresAt: expect.any(Date) });
      expect(after.get(eddsa!.kid)!.state).toBe('signing');
    });
  });

  it.each([
    ['before it signed', 0],
    ['after it began to sign', settings.publishAhead + 100],
  ])('does not count the given-up key as a rotation, given up %s: KEY_ROTATION_DAYS rotates the key that carries on when it is due', async (_, after) => {
    const now = new Date();
    const day = 86_400_000;
    await withKeys(new Date(now.getTime() - 31 * day), 'ES256', async (store, current) => {
      const pending = await rotateSigningKeyIfDue({ signingKeys: store, box: lost, clock: at(now), audit: recordingAudit().audit }, settings, 30);
      expect(pending).not.toBeNull();
      const forgotten = new Date(now.getTime() + after * 1000);
      expect(await store.retireSealedUnder('lost', forgotten, 'ES256')).toEqual({ retired: [pending!.kid], carriedOnBy: current.kid });
      const tomorrow = new Date(now.getTime() + day);
      const next = await rotateSigningKeyIfDue({ signingKeys: store, box: kept, clock: at(tomorrow), audit: recordingAudit().audit }, settings, 30);
      expect(next).not.toBeNull();
      expect((await stateOf(store, 'ES256', tomorrow)).get(current.kid)!.retiresAt).not.toBeNull(); // leaving for it
    });
  });
});

describe('a reload that cannot open a key', () => {
  it("is logged by the error's class and the key's id, saying why: a key sealed under an ENCRYPTION_KEYS id this instance lacks", async () => {
    const own = await createTestDatabase();
    const gw = await startGateway({ database: own.database, encryptionKeys, env: { KEY_RELOAD_SECONDS: '1' } });
    try {
      const elsewhere = generateEncryptionKeyEntry('elsewhere');
      await rotateSigningKey(
        { signingKeys: new PostgresSigningKeyStore(gw.database.db), box: new SecretBox(parseEncryptionKeys(elsewhere)), clock: gw.clock, audit: recordingAudit().audit },
        { alg: 'ES256', publishAhead: 600, accessTokenTtl: 900, reloadSeconds: 1 },
      );
      const deadline = Date.now() + 5000;
      let line: { err?: { type?: string } } | undefined;
      while (!(line = gw.logs.map((l) => JSON.parse(l) as { msg: string; err?: { type?: string } }).find((l) => l.msg === 'signing keys not reloaded'))) {
        if (Date.now() > deadline) throw new Error('no failed reload logged within 5 s');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(line.err).toEqual({ type: 'MissingEncryptionKeyError', keyId: 'elsewhere' });
      expect(gw.logs.join('')).not.toContain(elsewhere.split(':')[1]!);
    } finally {
      await gw.close();
      await own.drop();
    }
  });
});

describe('after a change of JWT_ALG', () => {
  it("the previous algorithm's keys stay until retired explicitly, once their tokens have expired; a rotation never retires them", async () => {
    const own = await createTestDatabase();
    const es256 = await startGateway({ database: own.database, encryptionKeys, env: { JWT_ALG: 'ES256' } });
    const signedBefore = await signUp(es256);
    await es256.close();
    const eddsa = await startGateway({ database: own.database, encryptionKeys, env: { JWT_ALG: 'EdDSA' } });
    try {
      // Said at start: the key it made signs at once, and instances still on ES256 refuse its tokens.
      const addedAtStart = eddsa.logs.map((line) => JSON.parse(line) as { msg: string; alg?: string }).filter((line) => line.msg.startsWith('signing key added'));
      expect(addedAtStart).toEqual([
        expect.objectContaining({ msg: 'signing key added', audit: true, by: 'gateway', reason: 'none_could_sign', alg: 'EdDSA', kid: expect.any(String) }),
      ]);
      // Its key is still published and its session live: the previous algorithm's tokens still
      // verify here, each under its own key's algorithm; a refresh gets one of the new.
      expect(codeOf(await eddsa.gql(MeDocument, {}, { token: signedBefore.accessToken }))).toBeUndefined();
      const refreshed = await rotateRefresh(eddsa, signedBefore.refreshToken);
      expect(decodeProtectedHeader(refreshed.accessToken).alg).toBe('EdDSA');
      expect(codeOf(await eddsa.gql(MeDocument, {}, { token: refreshed.accessToken }))).toBeUndefined();
      const store = new PostgresSigningKeyStore(own.database.db);
      const unretired = async () => (await store.list()).filter((k) => k.retiresAt === null).map((k) => k.alg).sort();
      expect(await unretired()).toEqual(['ES256', 'EdDSA']);
      // Nothing tells a rotation which algorithm the instances sign with (one ahead of the
      // change, or by an instance not yet changed): it retires keys of its own algorithm only.
      const added = await rotate(eddsa);
      expect(await unretired()).toEqual(['ES256', 'EdDSA']);
      const old = (await store.list()).find((k) => k.alg === 'ES256')!;
      // keys list: the previous algorithm's key stays published, with no end, until it is retired.
      const states = async () =>
        Object.fromEntries(describeKeys(await store.list(), 'EdDSA', eddsa.clock.now()).map((k) => [k.kid === old.kid ? 'old' : k.kid === added.kid ? 'added' : 'first', k.state]));
      expect(await states()).toEqual({ added: 'pending', first: 'signing', old: 'published' });
      // …in the JWKS itself: a subgraph that takes both algorithms still verifies the old tokens.
      const first = (await store.list()).find((k) => k.alg === 'EdDSA' && k.kid !== added.kid)!;
      await eddsa.reloadKeys();
      expect(await kidsOf(eddsa)).toEqual([added.kid, first.kid, old.kid].sort());
      const settings = { alg: 'EdDSA' as const, accessTokenTtl: eddsa.config.jwt.accessTokenTtl, reloadSeconds: eddsa.config.keys.reloadSeconds };
      const { audit, lines } = recordingAudit();
      const deps = { signingKeys: store, clock: eddsa.clock, audit };
      await expect(retireSigningKey(deps, settings, added.kid)).rejects.toThrow(/the algorithm JWT_ALG signs with: replace it with keys rotate instead/);
      await expect(retireSigningKey(deps, settings, 'no-such-kid')).rejects.toThrow(/No signing key with kid no-such-kid/);
      const lasts = (settings.accessTokenTtl + 60 + settings.reloadSeconds) * 1000;
      const before = eddsa.clock.now().getTime();
      const retired = await retireSigningKey(deps, settings, old.kid);
      expect(retired!.retiresAt.getTime()).toBeGreaterThanOrEqual(before + lasts);
      expect(retired!.retiresAt.getTime()).toBeLessThanOrEqual(eddsa.clock.now().getTime() + lasts);
      expect(await retireSigningKey(deps, settings, old.kid)).toBeNull();
      // Audited once: the retirement it scheduled, not the refusals nor the one that changed nothing.
      expect(lines).toEqual([{ event: 'signing key retired', kid: old.kid, alg: old.alg, retiresAt: retired!.retiresAt }]);
      expect(await unretired()).toEqual(['EdDSA']);
      expect(await states()).toEqual({ added: 'pending', first: 'signing', old: 'retiring' });
      eddsa.clock.advance(eddsa.config.keys.publishAhead + settings.accessTokenTtl + 60 + settings.reloadSeconds + 1);
      await eddsa.reloadKeys();
      expect(await kidsOf(eddsa)).toEqual([added.kid]);
    } finally {
      await eddsa.close();
      await own.drop();
    }
  });
});

describe('during a change of JWT_ALG', () => {
  it('instances on either algorithm take each other\'s tokens once they have loaded the keys: a rollout signs no one out', async () => {
    const own = await createTestDatabase();
    const es256 = await startGateway({ database: own.database, encryptionKeys, env: { JWT_ALG: 'ES256' } });
    try {
      const eddsa = await startGateway({ database: own.database, encryptionKeys, env: { JWT_ALG: 'EdDSA' } });
      try {
        const onOld = await signUp(es256);
        const onNew = await signUp(eddsa);
        expect(decodeProtectedHeader(onOld.accessToken).alg).toBe('ES256');
        expect(decodeProtectedHeader(onNew.accessToken).alg).toBe('EdDSA');
        expect(codeOf(await eddsa.gql(MeDocument, {}, { token: onOld.accessToken }))).toBeUndefined();
        // The old instance has not seen the key the new one added at start: not yet.
        expect(codeOf(await es256.gql(MeDocument, {}, { token: onNew.accessToken }))).toBe('UNAUTHENTICATED');
        await es256.reloadKeys();
        const me = await es256.gql(MeDocument, {}, { token: onNew.accessToken });
        expect(me.errors).toBeUndefined();
        expect(me.data?.me.id).toBe(onNew.user.id);
        // Each key verifies under its own algorithm only: the EdDSA key's kid on an ES256 header is forged.
        const [, payload, signature] = onNew.accessToken.split('.');
        const relabelled = Buffer.from(JSON.stringify({ ...decodeProtectedHeader(onNew.accessToken), alg: 'ES256' })).toString('base64url');
        expect(codeOf(await es256.gql(MeDocument, {}, { token: `${relabelled}.${payload}.${signature}` }))).toBe('UNAUTHENTICATED');
      } finally {
        await eddsa.close();
      }
    } finally {
      await es256.close();
      await own.drop();
    }
  });
});

describe('a key reload that finds no key of JWT_ALG left', () => {
  it('adds one that signs at once, audited as the gateway\'s own', async () => {
    const own = await createTestDatabase();
    const gw = await startGateway({ database: own.database, encryptionKeys });
    try {
      const before = await signUp(gw);
      // Every key retired (as forget-encryption-key --yes does to those it gives up).
      await own.database.db.update(signingKeys).set({ retiresAt: gw.clock.now() });
      const from = gw.logs.length;
      await gw.reloadKeys();
      const added = gw.logs
        .slice(from)
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line.msg === 'signing key added');
      expect(added).toEqual([expect.objectContaining({ audit: true, by: 'gateway', reason: 'none_could_sign', alg: 'ES256', kid: expect.any(String) })]);
      expect(added[0]!.kid).not.toBe(kidOf(before.accessToken));
      expect(kidOf((await signUp(gw)).accessToken)).toBe(added[0]!.kid);
      expect(codeOf(await gw.gql(MeDocument, {}, { token: before.accessToken }))).toBe('UNAUTHENTICATED');
    } finally {
      await gw.close();
      await own.drop();
    }
  });
});

describe('keys rotate', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ database: database.database, encryptionKeys });
  });
  afterAll(() => gw?.close());

  it('publishes the new key at once, signs with it after KEY_PUBLISH_AHEAD, retires the old one after TTL + 60 s + KEY_RELOAD_SECONDS', async () => {
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

    gw.clock.advance(900 + 60); // every token of the old key has expired, but for one failed reload
    await gw.reloadKeys();
    expect(await kidsOf(gw)).toEqual([oldKid, added.kid].sort());
    gw.clock.advance(60); // KEY_RELOAD_SECONDS
    await gw.reloadKeys();
    expect(await kidsOf(gw)).toEqual([added.kid]);
    const latest = await signUp(gw);
    expect(kidOf(latest.accessToken)).toBe(added.kid);
    expect(codeOf(await gw.gql(MeDocument, {}, { token: latest.accessToken }))).toBeUndefined();
  });
});

describe('two instances that reload at different moments (KEY_RELOAD_SECONDS=3600)', () => {
  const env = { KEY_RELOAD_SECONDS: '3600', KEY_PUBLISH_AHEAD: '3900', ACCESS_TOKEN_TTL: '60' };
  let own: TestDatabase;
  let a: TestGateway;
  let b: TestGateway;
  const advanceBoth = (seconds: number) => [a, b].forEach((gw) => gw.clock.advance(seconds));
  const signingKid = async (gw: TestGateway) =>
    describeKeys(await new PostgresSigningKeyStore(gw.database.db).list(), 'ES256', gw.clock.now()).find((k) => k.state === 'signing')?.kid;
  beforeAll(async () => {
    own = await createTestDatabase();
    a = await startGateway({ database: own.database, encryptionKeys, env });
    b = await startGateway({ database: own.database, encryptionKeys, env });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await own?.drop();
  });

  it('switch to the new key at its activatesAt without a reload; what A signs then verifies on B, reloaded TTL + 60 s past the switch', async () => {
    const user = await signUp(a);
    const oldKid = kidOf(user.accessToken)!;
    const added = await rotate(a);
    await Promise.all([a.reloadKeys(), b.reloadKeys()]); // both have loaded it, pending
    const ring = a.deps.keys;

    advanceBoth(3900 - 1);
    expect(kidOf((await signUp(a)).accessToken)).toBe(oldKid); // a second before activatesAt
    expect(await signingKid(a)).toBe(oldKid);
    advanceBoth(1); // activatesAt, an hour before A's next reload
    expect(kidOf((await signUp(a)).accessToken)).toBe(added.kid);
    const refreshed = await a.gql(RefreshDocument, { refreshToken: user.refreshToken });
    expect(refreshed.errors).toBeUndefined();
    expect(kidOf(refreshed.data!.refresh.accessToken)).toBe(added.kid);
    expect(await signingKid(a)).toBe(added.kid);

    advanceBoth(100);
    const late = await signUp(a);
    expect(kidOf(late.accessToken)).toBe(added.kid);
    expect(a.deps.keys).toBe(ring); // all of it on the ring A loaded before activatesAt
    // B reloads while that token lives (exp: activatesAt + 160), after TTL + 60 s past the switch.
    b.clock.advance(59);
    await b.reloadKeys();
    expect(kidOf((await signUp(b)).accessToken)).toBe(added.kid);
    expect(codeOf(await b.gql(MeDocument, {}, { token: late.accessToken }))).toBeUndefined();
  });

  it('keep the old key published until the tokens of an instance whose reload failed once have expired', async () => {
    a.clock.advance(59); // both at one time again
    const previous = await signingKid(a);
    const added = await rotate(a);
    await b.reloadKeys();
    // A's reload 3600 s from now fails ("signing keys not reloaded": its ring stays as it is);
    // the next one, 7200 s from now, is 3300 s past activatesAt. Until then A signs with the old key.
    advanceBoth(7200 - 1);
    const stale = await signUp(a);
    expect(kidOf(stale.accessToken)).toBe(previous);
    b.clock.advance(60 - 1); // B reloads while that token lives
    await b.reloadKeys();
    expect(codeOf(await b.gql(MeDocument, {}, { token: stale.accessToken }))).toBeUndefined();
    a.clock.advance(1);
    await a.reloadKeys();
    expect(kidOf((await signUp(a)).accessToken)).toBe(added.kid);
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
    expect(second.stdout).toMatch(/^added \S+ \(ES256\): running gateways publish it within KEY_RELOAD_SECONDS \(\d+ s here\); it signs from /m);
    const kid = /^added (\S+)/m.exec(second.stdout)![1];
    const audit = second.stderr.split('\n').filter((line) => line.includes('"audit":true')).map((line) => JSON.parse(line));
    expect(audit).toEqual([expect.objectContaining({ level: 30, msg: 'signing key added', by: 'admin-cli', kid, alg: 'ES256' })]);
    const list = await admin(['keys', 'list']);
    expect(list.code, list.stderr).toBe(0);
    const states = list.stdout.trim().split('\n').map((line) => line.split(/\s+/)[2]);
    // Both published ahead, on a database that had no key: until either activates the first
    // signs (as every gateway's KeyRing would), the second is pending.
    expect(states).toEqual(['pending', 'signing']);
    expect(second.stdout).not.toContain('note:'); // the first one signs already
    // Run again while a key is pending: it says what becomes of that one.
    const third = await admin(['keys', 'rotate']);
    expect(third.code, third.stderr).toBe(0);
    const [, newer, from] = /^added (\S+) \(ES256\): .* it signs from (\S+)$/m.exec(third.stdout)!;
    expect(third.stdout).toMatch(new RegExp(`^note: ${kid}, added earlier and still pending, signs only from \\S+ until ${from}, when ${newer} takes over$`, 'm'));
    // Only the key the last rotation added is noted (those before it leave already); one that
    // would have signed after the new one never signs: it leaves by its activation.
    const fourth = await runTsx('src/cli/admin.ts', ['keys', 'rotate'], childEnv({ ...named.env, ENCRYPTION_KEYS: encryptionKeys, KEY_PUBLISH_AHEAD: '1200' }));
    expect(fourth.code, fourth.stderr).toBe(0);
    expect(fourth.stdout.match(/^note: /gm)).toHaveLength(1);
    const [, later] = /^added (\S+) /m.exec(fourth.stdout)!;
    const fifth = await admin(['keys', 'rotate']);
    expect(fifth.code, fifth.stderr).toBe(0);
    const [, last] = /^added (\S+) /m.exec(fifth.stdout)!;
    expect(fifth.stdout).toMatch(new RegExp(`^note: ${later}, added earlier and still pending \\(from \\S+\\), will not sign: ${last} signs first, and ${later} leaves the key set by then$`, 'm'));
    expect(fifth.stdout.match(/^note: /gm)).toHaveLength(1);
    const database = await named.open();
    try {
      const stored = (await new PostgresSigningKeyStore(database.db).list()).find((k) => k.kid === later)!;
      expect(+stored.retiresAt!).toBeLessThanOrEqual(+stored.activatesAt);
    } finally {
      await database.close();
    }
    expect((await admin(['keys', 'delete'])).code).toBe(2);
    expect((await admin(['keys', 'retire'])).code).toBe(2);
    // A key of the algorithm JWT_ALG signs with is replaced by rotating, not retired.
    const refused = await admin(['keys', 'retire', kid!]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('is a ES256 key, the algorithm JWT_ALG signs with: replace it with keys rotate instead.');
  }, 60_000);

  it('retire schedules a key of the algorithm JWT_ALG no longer signs with, audits it, and says when asked again that nothing changed', async () => {
    const added = await runTsx('src/cli/admin.ts', ['keys', 'rotate'], childEnv({ ...named.env, ENCRYPTION_KEYS: encryptionKeys, JWT_ALG: 'EdDSA' }));
    expect(added.code, added.stderr).toBe(0);
    const [, ed] = /^added (\S+) \(EdDSA\)/m.exec(added.stdout)!;
    const before = Date.now();
    const retired = await admin(['keys', 'retire', ed!]);
    expect(retired.code, retired.stderr).toBe(0);
    const [, at] = new RegExp(`^${ed} \\(EdDSA\\): leaves the key set at (\\S+)$`, 'm').exec(retired.stdout)!;
    // Once the last token it may have signed has expired: ACCESS_TOKEN_TTL (900 s), the clock skew
    // (60 s) and KEY_RELOAD_SECONDS (60 s) from now.
    expect(Date.parse(at!)).toBeGreaterThanOrEqual(before + 1_020_000);
    expect(Date.parse(at!)).toBeLessThanOrEqual(Date.now() + 1_020_000);
    expect(retired.stdout).toMatch(new RegExp(`^${ed}  EdDSA  \\S+\\s+from \\S+  until ${at}$`, 'm'));
    const audit = (run: { stderr: string }) => run.stderr.split('\n').filter((line) => line.includes('"audit":true')).map((line) => JSON.parse(line));
    expect(audit(retired)).toEqual([expect.objectContaining({ level: 30, msg: 'signing key retired', by: 'admin-cli', kid: ed, alg: 'EdDSA', retiresAt: at })]);
    const again = await admin(['keys', 'retire', ed!]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`^${ed}: retiring or retired already \\(unchanged\\)$`, 'm'));
    expect(audit(again)).toEqual([]);
    expect((await admin(['keys', 'retire', 'no-such-kid'])).stderr).toContain('No signing key with kid no-such-kid.');
  }, 60_000);
});
