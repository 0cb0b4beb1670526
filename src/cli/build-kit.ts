/** `npm run build:kit`: the verifier kit as a package of its own, in dist/ (see build-subgraph-kit.ts). */
import { buildSubgraphKit } from '../build/build-subgraph-kit';

const { dir, tarball } = await buildSubgraphKit();
process.stdout.write(`built ${dir} and packed it as ${tarball}: copy that file into the subgraph's repository and npm install it from there\n`);
