/** `npm run schema`: writes schema.graphql and schema.subgraph.graphql from the resolvers. Tests fail when either is stale. */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { printSubgraphSdl } from '../graphql/federation/subgraph-schema';
import { printGatewaySchema } from '../graphql/schema';

writeFileSync(new URL('../../schema.graphql', import.meta.url), printGatewaySchema());
writeFileSync(new URL('../../schema.subgraph.graphql', import.meta.url), printSubgraphSdl());
process.stdout.write('wrote schema.graphql and schema.subgraph.graphql\n');
