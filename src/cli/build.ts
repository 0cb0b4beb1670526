/** `npm run build`: writes dist/gateway.js and dist/launch.cjs, which `npm run start:prod` runs. */
import { buildGateway } from '../build/build-gateway';

const { launcher } = await buildGateway();
process.stdout.write(`built ${launcher} and the gateway bundle beside it\n`);
