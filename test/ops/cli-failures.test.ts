// Rule: when `npm run db:migrate`, `npm run admin` or the server cannot go on, it exits 1 with one
// line that says why, naming the setting at fault, and never prints a setting's secret (the
// password of DATABASE_URL or REDIS_URL), however the URL is broken.
import { describe, expect, it } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { childEnv, freePort, runTsx, type RunResult } from '../helpers/processes';

const SECRET = 'S3cretPW';

/** The three entry points, each with what it needs to get as far as the database. */
const COMMANDS: Array<[string, string, string[], Record<string, string>]> = [
  ['db:migrate', 'src/cli/migrate.ts', [], {}],
  ['admin', 'src/cli/admin.ts', ['prune'], {}],
  // Explicit keys: development would otherwise write keys into the project's .data/.
  ['the server', 'src/main.ts', [], { ENCRYPTION_KEYS: generateEncryptionKeyEntry('k1'), PORT: '0', LOG_LEVEL: 'silent' }],
];

function expectSafeFailure(run: RunResult, expected: RegExp) {
  const output = run.stdout + run.stderr;
  expect(run.code, output).toBe(1);
  expect(output).not.toContain(SECRET);
  expect(run.stderr).toMatch(expected);
  // One line of its own, not node's report of an uncaught error (stack, properties, the input).
  expect(run.stderr).not.toMatch(/^\s+at |input:|node:internal/m);
  expect(run.stderr.trim().split('\n')).toHaveLength(1);
}

describe.each(COMMANDS)('%s', (_, script, args, extra) => {
  const run = (env: Record<string, string>) => runTsx(script, args, childEnv({ ...extra, ...env }));

  it.each([
    ['a port that is not a number', `postgres://user:${SECRET}@127.0.0.1:54x2/db`],
    ['a port out of range', `postgres://user:${SECRET}@127.0.0.1:99999/db`],
    ['a password with a malformed %-escape', `postgres://user:${SECRET}%zz@127.0.0.1:5432/db`],
  ])('names DATABASE_URL, not its password, when it holds %s', async (_, url) => {
    expectSafeFailure(await run({ DATABASE_URL: url }), /DATABASE_URL: cannot be read as a URL/);
  }, 30_000);

  it('says the database cannot be reached, without its URL', async () => {
    const port = await freePort(); // nothing listens there
    expectSafeFailure(await run({ DATABASE_URL: `postgres://user:${SECRET}@127.0.0.1:${port}/db` }), /ECONNREFUSED/);
  }, 30_000);
});

it('admin names REDIS_URL, not its password, when it cannot be read', async () => {
  const run = await runTsx(
    'src/cli/admin.ts',
    ['prune'],
    childEnv({ DATABASE_URL: `postgres://user@127.0.0.1:${await freePort()}/db`, REDIS_URL: `redis://:${SECRET}@127.0.0.1:63x9` }),
  );
  expectSafeFailure(run, /REDIS_URL: cannot be read as a URL/);
}, 30_000);
