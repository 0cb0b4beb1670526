/** `npm run db:migrate`: applies pending migrations from drizzle/ to the configured database. */
import { databaseTarget, describeLeftOverEmails, openConfiguredDatabase } from '../bootstrap';
import { loadConfig } from '../config';
import { describeFailure, exitOnUnhandled, isExpectedFailure } from '../failure';
import { createLogger } from '../logger';

async function run() {
  const config = loadConfig();
  const database = await openConfiguredDatabase(config, createLogger('warn'));
  try {
    const { applied, emails } = await database.migrate();
    process.stderr.write(`db:migrate: on ${databaseTarget(config)}\n`);
    process.stdout.write(
      applied.length > 0
        ? `migrations applied (${database.kind} database): ${applied.join(', ')}\n`
        : `schema up to date, no migration to apply (${database.kind} database)\n`,
    );
    if (emails.changed > 0) process.stdout.write(`emails: ${emails.changed} brought to their canonical spelling\n`);
    const leftOver = describeLeftOverEmails(emails);
    if (leftOver) process.stderr.write(`db:migrate: ${leftOver}\n`);
  } finally {
    await database.close();
  }
}

// Every failure ends here, as one line that names no setting's value: an error left to node
// would be printed with its properties, a malformed DATABASE_URL whole, password included.
exitOnUnhandled((error) => process.stderr.write(`db:migrate: crashed: ${describeFailure(error)}\n`));
run().catch((error: unknown) => {
  process.stderr.write(`db:migrate: ${isExpectedFailure(error) ? '' : 'failed: '}${describeFailure(error)}\n`);
  process.exit(1);
});
