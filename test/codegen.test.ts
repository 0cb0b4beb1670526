// Rule: test/gql/ is exactly what GraphQL Code Generator produces now from schema.graphql and
// test/operations (the tests are typed clients of the committed schema).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { generate } from '@graphql-codegen/cli';
import { expect, it } from 'vitest';
import config from '../codegen';
import { ROOT } from './helpers/processes';

it('test/gql/ matches a fresh `npm run codegen`', async () => {
  const outputs: Array<{ filename: string; content: string }> = await generate({ ...config, cwd: ROOT, silent: true }, false);
  const generated = Object.fromEntries(
    outputs.map((o) => [path.relative(ROOT, path.resolve(ROOT, o.filename)), o.content]),
  );
  expect(Object.keys(generated).length).toBeGreaterThan(0);

  const onDisk = Object.fromEntries(
    readdirSync(path.join(ROOT, 'test/gql')).map((f) => {
      const file = path.join('test/gql', f);
      return [file, readFileSync(path.join(ROOT, file), 'utf8')];
    }),
  );
  expect(onDisk, 'test/gql/ is stale: run `npm run codegen`').toEqual(generated);
}, 60_000);
