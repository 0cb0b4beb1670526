// Rule: the gateway, `npm run db:migrate` and `npm run admin` work behind a pooler in transaction
// mode (PgBouncer, with `?prepare=false` as README says): they send no startup parameter a pooler
// would refuse. What they relied on such a parameter for, transactions that run read committed,
// is checked at start instead: a database whose default isolation is another is refused, by name.
import { afterAll, describe, expect, it } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { LoginDocument, RefreshDocument, RegisterDocument } from '../gql/graphql';
import { codeOf, PASSWORD, uniqueEmail } from '../helpers/fixtures';
import { pgbouncerBinary, startPgbouncer } from '../helpers/pgbouncer';
import { childEnv, createNamedDatabase, expectServesAndStops, freePort, gqlAt, runTsx, spawnTsx } from '../helpers/processes';

const databaseUrl = process.env.DATABASE_URL;
const pgbouncer = pgbouncerBinary();
if (!databaseUrl) console.log('skipping the pooler tests: they need DATABASE_URL (PGlite has no pooler)');
else if (!pgbouncer && !process.env.CI) console.log('pgbouncer missing (apt-get install -y pgbouncer): its test is skipped');

const READY = /ready at (http:\/\/\S+)/;
const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const settings = () => ({
  NODE_ENV: 'test',
  LOG_LEVEL: 'warn',
  ENCRYPTION_KEYS: generateEncryptionKeyEntry('k1'),
  REFRESH_LIMIT_IP: '1000/60',
});

describe.skipIf(!databaseUrl || (!pgbouncer && !process.env.CI))('behind PgBouncer in transaction mode', () => {
  it('migrates, serves logins and refreshes (one winner of a concurrent burst), and runs admin commands', { timeout: 120_000 }, async () => {
    if (!pgbouncer) throw new Error('pgbouncer is missing: install it with apt-get install -y pgbouncer');
    const named = await createNamedDatabase({ migrated: false });
    cleanups.push(() => named.drop());
    const pooler = await startPgbouncer(pgbouncer, databaseUrl!);
    cleanups.push(() => pooler.stop());
    const env = { ...settings(), DATABASE_URL: pooler.urlOf(named.name!) };

    const migrated = await runTsx('src/cli/migrate.ts', [], childEnv(env));
    expect(migrated.code, migrated.stderr).toBe(0);

    const server = spawnTsx('src/main.ts', [], childEnv({ ...env, PORT: String(await freePort()) }));
    cleanups.push(() => server.killAll());
    const [, url] = await server.waitFor(READY, 60_000);
    const email = uniqueEmail('pooled');
    expect((await gqlAt(url!, RegisterDocument, { email, password: PASSWORD })).errors).toBeUndefined();
    const login = await gqlAt(url!, LoginDocument, { email, password: PASSWORD });
    const { refreshToken } = login.data!.login as { refreshToken: string };
    const burst = await Promise.all(Array.from({ length: 8 }, () => gqlAt(url!, RefreshDocument, { refreshToken })));
    const winners = burst.filter((answer) => answer.data?.refresh);
    expect(winners).toHaveLength(1);
    expect(burst.filter((answer) => answer !== winners[0]).map(codeOf)).toEqual(Array(7).fill('INVALID_TOKEN'));
    const next = await gqlAt(url!, RefreshDocument, { refreshToken: winners[0]!.data!.refresh.refreshToken });
    expect(next.errors).toBeUndefined();

    const admin = await runTsx('src/cli/admin.ts', ['revoke-sessions', email], childEnv(env));
    expect(admin.code, admin.stderr).toBe(0);
    expect(admin.stdout).toContain('1 session(s) ended');
    server.process.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.stderr()).not.toMatch(/startup parameter|failed/i);
  });
});

describe.skipIf(!databaseUrl)("a database whose default isolation is not read committed", () => {
  it('the server and the admin CLI refuse it, naming the setting; once reset, the server starts', { timeout: 90_000 }, async () => {
    const named = await createNamedDatabase({ migrated: true });
    cleanups.push(() => named.drop());
    const env = { ...settings(), ...named.env };
    await named.admin(`ALTER DATABASE "${named.name}" SET default_transaction_isolation = 'repeatable read'`);

    const refused = spawnTsx('src/main.ts', [], childEnv({ ...env, PORT: String(await freePort()) }));
    cleanups.push(() => refused.killAll());
    // A server that starts after all fails here at once (and is stopped by the clean-up).
    expect(await Promise.race([refused.exited, refused.waitFor(READY, 30_000).then(() => 'started', () => refused.exited)])).toBe(1);
    const reason = `the database's default transaction isolation is "repeatable read", and the gateway needs "read committed"`;
    expect(refused.stderr()).toContain(`Refusing to start: ${reason}`);
    const admin = await runTsx('src/cli/admin.ts', ['prune'], childEnv(env));
    expect(admin.code).toBe(1);
    expect(admin.stderr).toContain(`admin: ${reason}`);
    // Read uncommitted is taken: PostgreSQL runs it as read committed.
    await named.admin(`ALTER DATABASE "${named.name}" SET default_transaction_isolation = 'read uncommitted'`);
    const uncommitted = await runTsx('src/cli/admin.ts', ['prune'], childEnv(env));
    expect(uncommitted.code, uncommitted.stderr).toBe(0);

    await named.admin(`ALTER DATABASE "${named.name}" RESET default_transaction_isolation`);
    await expectServesAndStops(env);
  });
});
