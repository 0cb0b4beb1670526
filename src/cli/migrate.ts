/** `npm run db:migrate`: applies pending migrations from drizzle/ to the configured database. */
import { openConfiguredDatabase } from '../bootstrap';
import { loadConfig } from '../config';
import { createLogger } from '../logger';

const config = loadConfig();
const database = await openConfiguredDatabase(config, createLogger('warn'));
try {
  await database.migrate();
  process.stdout.write(`migrations applied (${database.kind} database)\n`);
} finally {
  await database.close();
}
