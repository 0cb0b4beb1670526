// Rule: the committed schema.graphql and schema.subgraph.graphql are exactly what the resolvers emit now.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { printSubgraphSdl } from '../src/graphql/federation/subgraph-schema';
import { printGatewaySchema } from '../src/graphql/schema';
import { ROOT } from './helpers/processes';

it('schema.graphql equals the schema printed from the resolvers', () => {
  const committed = readFileSync(path.join(ROOT, 'schema.graphql'), 'utf8');
  expect(committed, 'schema.graphql is stale: run `npm run schema`').toBe(printGatewaySchema());
});

it('schema.subgraph.graphql equals the subgraph SDL printed from the resolvers', () => {
  const committed = readFileSync(path.join(ROOT, 'schema.subgraph.graphql'), 'utf8');
  expect(committed, 'schema.subgraph.graphql is stale: run `npm run schema`').toBe(printSubgraphSdl());
});
