/** `npm run schema`: writes schema.graphql from the resolvers. A test fails when it is stale. */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { printGatewaySchema } from '../graphql/schema';

writeFileSync(new URL('../../schema.graphql', import.meta.url), printGatewaySchema());
process.stdout.write('wrote schema.graphql\n');
