// Rule: the server refuses to start while a secret in use (a signing key not yet retired, a TOTP
// secret) is sealed under a key id ENCRYPTION_KEYS lacks, naming the ids (never a key) and
// `npm run admin -- reencrypt`; reencrypt re-seals what it can and reports the rest by key id
// and why, exiting 1, instead of stopping at the first secret it cannot open; a key lost for good
// is given up with `forget-encryption-key` (signing keys retired, TOTP factors removed), after
// which the server starts.
import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEncryptionKeys } from '../../src/config';
import { reencrypt as reencryptSecrets } from '../../src/domain/admin';
import { generateEncryptionKeyEntry, SecretBox } from '../../src/domain/crypto/secret-box';
import { PostgresEncryptionKeyHistory, PostgresMfaStore, PostgresSigningKeyStore, type Db } from '../../src/storage/postgres';
import { mfaFactors, signingKeys } from '../../src/storage/postgres/schema';
import { EnrollMfaDocument, LoginDocument, RefreshDocument } from '../gql/graphql';
import { codeOf, signUp } from '../helpers/fixtures';
import { withGatewayOn, type TestGateway } from '../helpers/gateway';
import { enableMfa, loginWithMfa, totpNow } from '../helpers/mfa';
import { auditLinesOf, childEnv, createNamedDatabase, freePort, runTsx, spawnTsx, type Child, type NamedDatabase } from '../helpers/processes';

const NEW = generateEncryptionKeyEntry('new');
const OLD = generateEncryptionKeyEntry('old');
/** Another key under the id "old": it opens nothing sealed under the real one. */
const OLD_IMPOSTOR = `old:${randomBytes(32).toString('base64')}`;
const READY = /ready at (http:\/\/\S+)/;

let named: NamedDatabase;
const users: Record<'alice' | 'bob' | 'carol', { id: string; email: string; password: string; secret: string; refreshToken: string }> = {} as never;
const children: Child[] = [];
afterAll(async () => {
  for (const child of children) child.killAll();
  await named?.drop();
});

/** A gateway phase on the database (closed again before any child runs). */
const withGateway = <T>(encryptionKeys: string, body: (gw: TestGateway, db: Db) => Promise<T>) => withGatewayOn(named, encryptionKeys, body);

/** Starts the server; resolves with its exit code, or 'started' (the child is stopped at the end). */
async function startServer(encryptionKeys: string) {
  const env = { ...named.env, ENCRYPTION_KEYS: encryptionKeys, PORT: String(await freePort()), LOG_LEVEL: 'warn' };
  const child = spawnTsx('src/main.ts', [], childEnv(env));
  children.push(child);
  const outcome = await Promise.race([child.exited, child.waitFor(READY, 60_000).then(() => 'started' as const, () => child.exited)]);
  return { outcome, child };
}

const admin = (args: string[], encryptionKeys: string) => runTsx('src/cli/admin.ts', args, childEnv({ ...named.env, ENCRYPTION_KEYS: encryptionKeys }));
const reencrypt = (encryptionKeys: string) => admin(['reencrypt'], encryptionKeys);

beforeAll(async () => {
  named = await createNamedDatabase({ migrated: true });
  // The signing key is sealed under "new"; then, with "old" first, three users' TOTP secrets under "old".
  await withGateway(NEW, async () => {});
  await withGateway(`${OLD},${NEW}`, async (gw, db) => {
    for (const who of ['alice', 'bob', 'carol'] as const) {
      const { user, email, password, accessToken, refreshToken } = await signUp(gw);
      const { secret } = await enableMfa(gw, accessToken, password);
      users[who] = { id: user.id, email, password, secret, refreshToken: refreshToken! };
    }
    // bob's secret under a key id nobody has any more.
    await db.update(mfaFactors).set({ encryptionKeyId: 'gone' }).where(eq(mfaFactors.userId, users.bob.id));
  });
}, 120_000);

describe('a TOTP secret sealed under a key ENCRYPTION_KEYS lacks', () => {
  it('stops the server from starting, naming the key ids, not the keys', async () => {
    const { outcome, child } = await startServer(NEW);
    expect(outcome, child.stdout()).toBe(1);
    expect(child.stderr()).toContain(
      'Refusing to start: ENCRYPTION_KEYS lacks the key id(s) "gone", "old" that stored secrets are sealed under: keep those keys in ENCRYPTION_KEYS (after the current one) until `npm run admin -- reencrypt` has re-sealed the secrets under the first (a key lost for good: `npm run admin -- forget-encryption-key <id>`)',
    );
    for (const entry of [NEW, OLD]) expect(child.stdout() + child.stderr()).not.toContain(entry.split(':')[1]);
  }, 90_000);

  it('reencrypt re-seals what it can open and reports the rest by key id and why, with exit 1', async () => {
    const impostor = await reencrypt(`${NEW},${OLD_IMPOSTOR}`);
    expect(impostor.code, impostor.stderr).toBe(1);
    expect(impostor.stdout.trim().split('\n')).toEqual([
      're-encrypted 0 secret(s) under key "new"',
      'could not re-seal 3 secret(s); keep their keys in ENCRYPTION_KEYS, and run reencrypt again once they are there:',
      '  1 under key "gone": no ENCRYPTION_KEYS entry has this id',
      '  2 under key "old": the ENCRYPTION_KEYS entry with this id does not open it (another key under the same id, or a damaged ciphertext)',
    ]);
    expect(auditLinesOf(impostor)).toEqual([expect.objectContaining({ msg: 'secrets reencrypted', count: 0, keyId: 'new', left: 3 })]);

    const right = await reencrypt(`${NEW},${OLD}`);
    expect(right.code, right.stderr).toBe(1);
    expect(right.stdout.trim().split('\n')).toEqual([
      're-encrypted 2 secret(s) under key "new"',
      'could not re-seal 1 secret(s); keep their keys in ENCRYPTION_KEYS, and run reencrypt again once they are there:',
      '  1 under key "gone": no ENCRYPTION_KEYS entry has this id',
    ]);
    expect(auditLinesOf(right)).toEqual([expect.objectContaining({ msg: 'secrets reencrypted', count: 2, keyId: 'new', left: 1 })]);
  }, 90_000);

  it('after reencrypt, only the key still missing is named; forget-encryption-key gives up what it sealed, then the server starts on the new key alone', async () => {
    const { outcome, child } = await startServer(NEW);
    expect(outcome).toBe(1);
    expect(child.stderr()).toContain('ENCRYPTION_KEYS lacks the key id(s) "gone" that');
    expect(child.stderr()).toContain('a key lost for good: `npm run admin -- forget-encryption-key <id>`');

    // A signing key sealed under "gone" too: published, due to sign tomorrow, in place of the
    // current one, which retires once it does (a rotation).
    let signing!: typeof signingKeys.$inferSelect;
    await withGateway(NEW, async (_gw, db) => {
      [signing] = (await db.select().from(signingKeys)) as [typeof signingKeys.$inferSelect];
      const kid = 'pending-under-gone';
      const activatesAt = new Date(Date.now() + 86_400_000);
      await db.insert(signingKeys).values({ ...signing, kid, publicJwk: { ...(signing.publicJwk as object), kid }, encryptionKeyId: 'gone', activatesAt });
      await db.update(signingKeys).set({ retiresAt: new Date(activatesAt.getTime() + 3_600_000) }).where(eq(signingKeys.kid, signing.kid));
      // And one under "gone" that retired yesterday: nothing to give up, neither listed nor counted.
      const retired = 'retired-under-gone';
      await db.insert(signingKeys).values({ ...signing, kid: retired, publicJwk: { ...(signing.publicJwk as object), kid: retired }, encryptionKeyId: 'gone', retiresAt: new Date(Date.now() - 86_400_000) });
    });
    const carriesOn = (verb: string) => `signing key ${signing.kid} ${verb} on in their place, no longer retiring: its ENCRYPTION_KEYS entry stays required (run keys rotate to replace it)`;

    // Without --yes it only says what it would give up; a key ENCRYPTION_KEYS has is refused.
    const [dryRun, refused] = [await admin(['forget-encryption-key', 'gone'], NEW), await admin(['forget-encryption-key', 'new', '--yes'], NEW)];
    expect(dryRun.code, dryRun.stderr).toBe(0);
    expect(dryRun.stdout.trim().split('\n')).toEqual([
      `key "gone": seals 1 signing key(s) not yet retired, 1 user(s)' MFA, 0 pending MFA enrolment(s)`,
      'signing keys to retire: pending-under-gone (the tokens they signed are refused; clients refresh)',
      carriesOn('to sign'),
      `MFA to remove, sessions to end: ${users.bob.email} (they sign in with the password alone and can enrol again)`,
      'nothing changed: run again with --yes to do it',
    ]);
    expect(auditLinesOf(dryRun)).toEqual([]);
    // A key that seals nothing: nothing is given up, and nothing audited.
    const nothing = await admin(['forget-encryption-key', 'unused', '--yes'], NEW);
    expect(nothing.code, nothing.stderr).toBe(0);
    expect(nothing.stdout).toContain(`key "unused": given up 0 signing key(s) not yet retired, 0 user(s)' MFA, 0 pending MFA enrolment(s)`);
    expect(auditLinesOf(nothing)).toEqual([]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('the encryption keys in use (ENCRYPTION_KEYS, or in development the keys file) have the key "new": nothing sealed under it is lost; run reencrypt, then drop it from them');
    // The database alone: no gateway could load its keys now (it opens pending ones too, and main.ts
    // refuses to start while "gone" seals one).
    const database = await named.open();
    try {
      expect((await new PostgresMfaStore(database.db).getFactor(users.bob.id))?.confirmed).toBe(true);
      expect((await database.db.select().from(signingKeys).where(eq(signingKeys.kid, 'pending-under-gone')))[0]?.retiresAt).toBeNull();
      expect((await database.db.select().from(signingKeys).where(eq(signingKeys.kid, signing.kid)))[0]?.retiresAt).not.toBeNull();
    } finally {
      await database.close();
    }

    const forgot = await admin(['forget-encryption-key', 'gone', '--yes'], NEW);
    expect(forgot.code, forgot.stderr).toBe(0);
    expect(forgot.stdout.trim().split('\n')).toEqual([
      `key "gone": given up 1 signing key(s) not yet retired, 1 user(s)' MFA, 0 pending MFA enrolment(s)`,
      'signing keys retired: pending-under-gone (the tokens they signed are refused; clients refresh)',
      carriesOn('signs'),
      `MFA removed, sessions ended: ${users.bob.email} (they sign in with the password alone and can enrol again)`,
      '1 session(s) ended (no REDIS_URL: running gateways refuse their access tokens once they next read the database, within their REVOCATION_POLL_SECONDS)',
    ]);
    expect(auditLinesOf(forgot)).toEqual([
      expect.objectContaining({ level: 30, msg: 'mfa reset', userId: users.bob.id, reason: 'encryption key forgotten', wasOn: true, endedSessions: 1 }),
      expect.objectContaining({ level: 40, msg: 'encryption key forgotten', keyId: 'gone', retiredSigningKeys: ['pending-under-gone'], signingKeyKept: signing.kid, mfaReset: 1, pendingRemoved: 0 }),
    ]);
    expect(forgot.stderr).not.toContain('@');

    await withGateway(NEW, async (gw, db) => {
      // The key that was to retire signs on: the gateway started with it, and it no longer retires.
      expect((await db.select().from(signingKeys).where(eq(signingKeys.kid, signing.kid)))[0]?.retiresAt).toBeNull();
      // bob's secret could not be recovered: he signs in with his password alone; his old session is over.
      const bob = await gw.gql(LoginDocument, { email: users.bob.email, password: users.bob.password });
      expect(bob.data?.login.__typename).toBe('AuthPayload');
      expect(codeOf(await gw.gql(RefreshDocument, { refreshToken: users.bob.refreshToken }))).toBe('INVALID_TOKEN');
      gw.clock.advance(60);
      const alice = await loginWithMfa(gw, users.alice.email, users.alice.password, totpNow(gw, users.alice.secret));
      expect(alice.user.id).toBe(users.alice.id);
      // A retired signing key under a lost key is never opened again: neither start-up nor reencrypt minds it.
      const [current] = await db.select().from(signingKeys);
      const retiresAt = new Date(Date.now() - 86_400_000);
      await db.insert(signingKeys).values({ ...current!, kid: 'retired-long-ago', encryptionKeyId: 'lost', retiresAt });
      // Nor does an enrolment abandoned long ago (it can never be confirmed) under a lost key.
      const dave = await signUp(gw);
      expect((await gw.gql(EnrollMfaDocument, { password: dave.password }, { token: dave.accessToken })).errors).toBeUndefined();
      const abandoned = { encryptionKeyId: 'lost', createdAt: new Date(Date.now() - 86_400_000) };
      await db.update(mfaFactors).set(abandoned).where(eq(mfaFactors.userId, dave.user.id));
      const box = new SecretBox(parseEncryptionKeys(NEW));
      const report = await reencryptSecrets({ signingKeys: new PostgresSigningKeyStore(db), mfa: gw.deps.mfa, keyHistory: new PostgresEncryptionKeyHistory(db), box, clock: gw.clock, audit: gw.deps.audit });
      // The three retired keys under lost keys: pending-under-gone, retired-under-gone, retired-long-ago.
      expect(report).toEqual({ resealed: 0, failed: [], left: 0, retiredLeft: 3 });
    });
    const leftAlone = await reencrypt(NEW);
    expect(leftAlone.code, leftAlone.stderr).toBe(0);
    expect(leftAlone.stdout.trim().split('\n')).toEqual([
      're-encrypted 0 secret(s) under key "new"',
      'left 3 retired signing key(s) as they were: they are never opened again',
    ]);
    expect(auditLinesOf(leftAlone)).toEqual([expect.objectContaining({ msg: 'secrets reencrypted', count: 0, keyId: 'new', left: 0 })]);
    const started = await startServer(NEW);
    expect(started.outcome, started.child.stderr()).toBe('started');
    started.child.process.kill('SIGTERM');
    expect(await started.child.exited).toBe(0);
  }, 120_000);

  it('refuses to start with other key bytes under the id the signing key is sealed under, naming the id, not a key', async () => {
    const impostor = `new:${randomBytes(32).toString('base64')}`;
    const { outcome, child } = await startServer(impostor);
    expect(outcome).toBe(1);
    expect(child.stderr().trim()).toBe(
      'Refusing to start: the ENCRYPTION_KEYS entry "new" does not open the secrets sealed under that id: it holds other key bytes than the ones they were sealed with (or a secret is damaged); give that id its original key',
    );
    for (const entry of [NEW, impostor]) expect(child.stdout() + child.stderr()).not.toContain(entry.split(':')[1]);
  }, 60_000);
});
