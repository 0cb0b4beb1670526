// Rule: the current (first) ENCRYPTION_KEYS key is recorded; an instance that starts with a key
// first that another instance, or reencrypt, has since replaced as the current key (an
// out-of-date ENCRYPTION_KEYS) is warned, by key id, never a key; a key put first for the first
// time, or the latest, is not; reencrypt makes its first key the latest again, whatever the clocks say.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { PostgresEncryptionKeyHistory, type Database } from '../../src/storage/postgres';
import { childEnv, createNamedDatabase, freePort, runTsx, spawnTsx, type Child, type NamedDatabase } from '../helpers/processes';

const K1 = generateEncryptionKeyEntry('k1');
const K2 = generateEncryptionKeyEntry('k2');
const READY = /ready at (http:\/\/\S+)/;
const minutes = (n: number) => new Date(Date.now() + n * 60_000);
const idsOf = (keys: Array<{ keyId: string }>) => keys.map((k) => k.keyId);

describe('the history of the current key', () => {
  let named: NamedDatabase;
  let database: Database;
  beforeAll(async () => {
    named = await createNamedDatabase({ migrated: true });
    database = await named.open();
  });
  afterAll(async () => {
    await database?.close();
    await named?.drop();
  });

  it('answers, for the key put first, the keys made current since it was: none for a new one or the latest', async () => {
    const history = new PostgresEncryptionKeyHistory(database.db);
    expect(await history.recordCurrent('a', minutes(0))).toEqual([]);
    expect(await history.recordCurrent('a', minutes(1))).toEqual([]); // the same key again
    expect(await history.recordCurrent('b', minutes(2))).toEqual([]); // a rotation: b first
    expect(idsOf(await history.recordCurrent('a', minutes(3)))).toEqual(['b']); // a left behind
    // A clock behind the others': a key put first for the first time is still the latest.
    expect(await history.recordCurrent('c', minutes(-60))).toEqual([]);
    expect(idsOf(await history.recordCurrent('a', minutes(4)))).toEqual(['c', 'b']);
    expect(idsOf(await history.recordCurrent('b', minutes(4)))).toEqual(['c']);
    // reencrypt under a: a is the latest again, even with a clock behind.
    await history.markCurrent('a', minutes(-120));
    expect(await history.recordCurrent('a', minutes(5))).toEqual([]);
    expect(idsOf(await history.recordCurrent('c', minutes(5)))).toEqual(['a']);
    expect([await history.wasCurrent('a'), await history.wasCurrent('never')]).toEqual([true, false]);
    await database.db.execute(sql`DELETE FROM encryption_key_history`);
    expect(await history.wasCurrent('a')).toBeUndefined(); // nothing recorded: no instance has started
  });
});

describe('an admin command sealing under a first key no gateway has started with', () => {
  let named: NamedDatabase;
  beforeAll(async () => {
    named = await createNamedDatabase({ migrated: true });
    const database = await named.open();
    try {
      await new PostgresEncryptionKeyHistory(database.db).recordCurrent('k1', minutes(-60)); // the instances run k1
    } finally {
      await database.close();
    }
  });
  afterAll(() => named?.drop());

  it('says so (the running instances may not hold it: README adds a key in two rollouts), once reencrypt has made it current no more', async () => {
    const K3 = generateEncryptionKeyEntry('k3');
    const admin = (args: string[], keys: string) => runTsx('src/cli/admin.ts', args, childEnv({ ...named.env, ENCRYPTION_KEYS: keys }));
    const note = (sealed: string) =>
      `note: no gateway has yet started with "k3" as its first ENCRYPTION_KEYS entry: ${sealed} is sealed under it, which instances without it cannot open (add a new key to every instance first, after the old one)\n`;
    const rotated = await admin(['keys', 'rotate'], `${K3},${K1}`);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toContain(note('the new signing key'));
    const reencrypted = await admin(['reencrypt'], `${K3},${K1}`);
    expect(reencrypted.code, reencrypted.stderr).toBe(0);
    expect(reencrypted.stdout).toContain(note('every secret'));
    // reencrypt made k3 the current key: the instances are then expected to hold it.
    for (const run of [await admin(['keys', 'rotate'], `${K3},${K1}`), await admin(['keys', 'rotate'], `${K1}`)]) {
      expect(run.stdout).not.toContain('no gateway has yet started');
    }
  }, 120_000);
});

describe('a server started with an out-of-date ENCRYPTION_KEYS', () => {
  let named: NamedDatabase;
  const children: Child[] = [];
  beforeAll(async () => {
    named = await createNamedDatabase({ migrated: true });
    // k1 was current, then a rotation put k2 first.
    const database = await named.open();
    try {
      const history = new PostgresEncryptionKeyHistory(database.db);
      await history.recordCurrent('k1', minutes(-60));
      await history.recordCurrent('k2', minutes(-30));
    } finally {
      await database.close();
    }
  });
  afterAll(async () => {
    for (const child of children) child.killAll();
    await named?.drop();
  });

  /** Starts the server, then stops it: its warning lines about the key order. */
  async function orderWarnings(encryptionKeys: string, prefix = 'ENCRYPTION_KEYS puts') {
    const env = { ...named.env, ENCRYPTION_KEYS: encryptionKeys, PORT: String(await freePort()), LOG_LEVEL: 'warn' };
    const child = spawnTsx('src/main.ts', [], childEnv(env));
    children.push(child);
    await child.waitFor(READY, 60_000);
    child.process.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    for (const entry of [K1, K2]) expect(child.stdout() + child.stderr()).not.toContain(entry.split(':')[1]);
    return child
      .stdout()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg: string; keyId?: string; laterKeyIds?: string[] })
      .filter((line) => line.msg.startsWith(prefix));
  }

  it('is warned, by key id; once reencrypt has made its first key current again, it is not', async () => {
    const warned = await orderWarnings(`${K1},${K2}`);
    expect(warned).toEqual([
      expect.objectContaining({
        level: 40,
        keyId: 'k1',
        laterKeyIds: ['k2'],
        msg: expect.stringContaining('ENCRYPTION_KEYS puts "k1" first, which "k2" replaced as the current key'),
      }),
    ]);
    // The admin commands that seal say so too; reencrypt makes k1 the current key again.
    const admin = (args: string[]) => runTsx('src/cli/admin.ts', args, childEnv({ ...named.env, ENCRYPTION_KEYS: `${K1},${K2}` }));
    const rotated = await admin(['keys', 'rotate']);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(/^note: ENCRYPTION_KEYS puts "k1" first, which "k2" replaced as the current key: \S+ is sealed under "k1", which instances without it cannot open/m);
    const reencrypted = await admin(['reencrypt']);
    expect(reencrypted.code, reencrypted.stderr).toBe(0);
    expect(reencrypted.stdout).toContain('note: ENCRYPTION_KEYS puts "k1" first, which "k2" replaced as the current key: this makes "k1" the current key again');
    expect(await orderWarnings(`${K1},${K2}`)).toEqual([]);
    expect((await admin(['reencrypt'])).stdout).not.toContain('note:');
  }, 120_000);

  it.runIf(process.env.DATABASE_URL)('keys rotate by a role without rights on the record still rotates, saying the order was not checked', async () => {
    const database = await named.open();
    try {
      await database.db.execute(sql`REVOKE ALL ON encryption_key_history FROM CURRENT_USER`);
      const rotated = await runTsx('src/cli/admin.ts', ['keys', 'rotate'], childEnv({ ...named.env, ENCRYPTION_KEYS: `${K1},${K2}` }));
      expect(rotated.code, rotated.stderr).toBe(0);
      expect(rotated.stdout).toMatch(/^added \S+ \(ES256\)/m);
      expect(rotated.stdout).toMatch(/^note: ENCRYPTION_KEYS order not checked: .*42501/m);
    } finally {
      await database.db.execute(sql`GRANT ALL ON encryption_key_history TO CURRENT_USER`);
      await database.close();
    }
  }, 60_000);

  it.runIf(process.env.DATABASE_URL)('starts on a read-only database: a recorded key is only read, and a check that cannot record says so', async () => {
    await named.admin(`ALTER DATABASE "${named.name}" SET default_transaction_read_only = on`);
    try {
      expect(await orderWarnings(`${K1},${K2}`, 'ENCRYPTION_KEYS')).toEqual([]);
      const K3 = generateEncryptionKeyEntry('k3');
      expect(await orderWarnings(`${K3},${K1},${K2}`, 'ENCRYPTION_KEYS')).toEqual([
        expect.objectContaining({ level: 40, msg: 'ENCRYPTION_KEYS order not checked: the database refused the check or did not answer', err: { type: 'DrizzleQueryError', cause: { type: 'PostgresError', code: '25006' } } }),
      ]);
    } finally {
      await named.admin(`ALTER DATABASE "${named.name}" SET default_transaction_read_only = off`);
    }
  }, 120_000);
});
