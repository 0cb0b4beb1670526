// Rule: the README documents every setting the gateway reads and every error code a client can
// see, each in a table row of its own, and names no setting or code that does not exist.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { SETTING_NAMES } from '../src/config';
import { ErrorCode } from '../src/errors';

const readme = readFileSync(path.join(import.meta.dirname, '..', 'README.md'), 'utf8');

/** The first cells of the tables between `## heading` and the next `## `. */
function rowNames(heading: string) {
  const start = readme.indexOf(`\n## ${heading}\n`);
  expect(start, `README has a "## ${heading}" section`).toBeGreaterThan(-1);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1]!);
}

it('has a row for every setting, in "Settings" or in "Brute-force and abuse protection"', () => {
  const documented = [...rowNames('Settings'), ...rowNames('Brute-force and abuse protection')];
  expect([...documented].sort()).toEqual([...SETTING_NAMES].sort());
});

it('has a row for every error code of the registry in "Error codes"', () => {
  expect(rowNames('Error codes').sort()).toEqual(Object.values(ErrorCode).sort());
});
