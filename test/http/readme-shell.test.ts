// Rule: README's shell snippet (log in with curl, keep the access token, call guarded operations
// with it) works as printed, and when it gets no token says why on stderr: the error, the MFA
// challenge with its mfaToken, or that nothing answered.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { enableMfa } from '../helpers/mfa';
import { freePort } from '../helpers/processes';

const readme = readFileSync(path.join(import.meta.dirname, '../../README.md'), 'utf8');
const section = readme.slice(readme.indexOf('\n### Call guarded operations\n'));
const snippet = /^```sh\n([\s\S]*?)^```$/m.exec(section)![1]!;
const EMAIL = 'ada@example.com';
const PASSWORD = 'Analytical-Engine-1843';

/** Runs the snippet against `url` instead of localhost:4000; ACCESS_TOKEN's value is printed last. */
async function runSnippet(url: string) {
  expect(snippet).toContain('http://localhost:4000/graphql');
  const script = `set -u\n${snippet.replaceAll('http://localhost:4000', url)}\nprintf '\\nACCESS_TOKEN=%s\\n' "$ACCESS_TOKEN"\n`;
  const { stdout, stderr } = await promisify(execFile)('bash', ['-c', script], { timeout: 30_000 });
  const marker = stdout.lastIndexOf('\nACCESS_TOKEN=');
  return { answer: stdout.slice(0, marker), token: stdout.slice(marker + '\nACCESS_TOKEN='.length).trim(), stderr };
}

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => {
  await gw?.close();
});

describe("README's shell snippet", () => {
  it('logs in, keeps the access token and calls me and sessions with it; for an account with MFA it prints the challenge', async () => {
    const login = await signUp(gw, EMAIL, PASSWORD);
    const signedIn = await runSnippet(gw.url);
    expect(signedIn.stderr).toBe('');
    expect(signedIn.token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const answer = JSON.parse(signedIn.answer) as { data: { me: { email: string }; sessions: Array<{ current: boolean }> } };
    expect(answer.data.me.email).toBe(EMAIL);
    expect(answer.data.sessions.filter((s) => s.current)).toHaveLength(1);

    await enableMfa(gw, login.accessToken, PASSWORD);
    const challenged = await runSnippet(gw.url);
    expect(challenged.token).toBe('');
    expect(JSON.parse(challenged.stderr)).toEqual({ data: { login: { __typename: 'MfaChallenge', mfaToken: expect.stringMatching(/^[\w-]{43}$/) } } });
  });

  it('says so when nothing answers, with no stack trace', async () => {
    const nobody = await runSnippet(`http://127.0.0.1:${await freePort()}`);
    expect(nobody.token).toBe('');
    // Both curls say why (-sS): the login's and the query's.
    expect(nobody.stderr.match(/curl: \(7\) Failed to connect/g)).toHaveLength(2);
    expect(nobody.stderr).toContain('no answer');
    expect(nobody.stderr).not.toMatch(/SyntaxError|\n\s+at /);
  });
});
