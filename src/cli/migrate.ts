/** `npm run db:migrate`: applies pending migrations from drizzle/ to the configured database. */
import { openConfiguredDatabase } from '../bootstrap';
import { ConfigError, loadConfig, type Config } from '../config';
import { createLogger } from '../logger';

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`db:migrate: ${error.message}\n`);
  process.exit(1);
}
const database = await openConfiguredDatabase(config, createLogger('warn'));
try {
  await database.migrate();
  process.stdout.write(`migrations applied (${database.kind} database)\n`);
} finally {
  await database.close();
}
