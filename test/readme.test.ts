// Rule: the README documents every setting the gateway reads, every error code a client can
// see and every audit event the gateway logs, each in a table row of its own, and names none
// that does not exist. Its example operations are valid against schema.graphql, each block as
// one document a client could send, and the example subgraph's schema it shows is that
// subgraph's file.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildSchema, Kind, parse, validate } from 'graphql';
import { expect, it } from 'vitest';
import { SETTING_NAMES } from '../src/config';
import { AUDIT_EVENTS } from '../src/domain/audit';
import { ErrorCode } from '../src/errors';

const root = path.join(import.meta.dirname, '..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const graphqlBlocks = [...readme.matchAll(/^```graphql\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);

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

it('lists every audit event with its level in "Audit log", and no other', () => {
  const start = readme.indexOf('\n### Audit log\n');
  expect(start, 'README has a "### Audit log" section').toBeGreaterThan(-1);
  const section = readme.slice(start, readme.indexOf('\n## ', start));
  const rows = [...section.matchAll(/^\| `([a-z][a-z ]*)` \| (info|warn) \|/gm)].map((m) => [m[1]!, m[2]!]);
  expect(Object.fromEntries(rows)).toEqual(AUDIT_EVENTS);
  expect(rows).toHaveLength(Object.keys(AUDIT_EVENTS).length);
});

it('holds example operations, each block valid against schema.graphql as one document', () => {
  const schema = buildSchema(readFileSync(path.join(root, 'schema.graphql'), 'utf8'));
  const operations = graphqlBlocks.filter((block) => parse(block).definitions.every((d) => d.kind === Kind.OPERATION_DEFINITION || d.kind === Kind.FRAGMENT_DEFINITION));
  expect(operations.length).toBeGreaterThanOrEqual(5);
  for (const block of operations) {
    expect(validate(schema, parse(block)).map((e) => e.message), block).toEqual([]);
  }
});

it("shows the example subgraph's schema as its file holds it", () => {
  const file = readFileSync(path.join(root, 'examples/products/schema.graphql'), 'utf8');
  const withoutComment = file.slice(file.indexOf('\n') + 1);
  const shown = graphqlBlocks.filter((block) => block.includes('type Product'));
  expect(shown).toEqual([withoutComment]);
});
