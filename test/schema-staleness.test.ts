// Rule: the committed schema.graphql is exactly what the type-graphql resolvers emit now.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { printGatewaySchema } from '../src/graphql/schema';
import { ROOT } from './helpers/processes';

it('schema.graphql equals the schema printed from the resolvers', () => {
  const committed = readFileSync(path.join(ROOT, 'schema.graphql'), 'utf8');
  expect(committed, 'schema.graphql is stale: run `npm run schema`').toBe(printGatewaySchema());
});
