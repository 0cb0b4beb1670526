/**
 * With DATABASE_URL set, every test file gets its own database cloned from a template that is
 * migrated once here (per-schema isolation cannot work: drizzle-kit qualifies tables with
 * "public"). Without it, test files run on in-memory PGlite. In both modes, a folder for the
 * migrated PGlite database that tests copy (embedded-template.ts), removed after the run.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { openPostgres } from '../../src/storage/postgres';
import { adminUrl, databaseUrlFor } from './postgres-urls';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabase: string | null;
    /** The folder embedded-template.ts makes its template in. */
    embeddedTemplates: string;
  }
}

/** The folder for embedded-template.ts; returns its removal. */
function provideEmbeddedTemplates(project: TestProject): () => void {
  const folder = mkdtempSync(path.join(tmpdir(), 'gateway-templates-'));
  project.provide('embeddedTemplates', folder);
  return () => rmSync(folder, { recursive: true, force: true });
}

export default async function setup(project: TestProject) {
  const base = process.env.DATABASE_URL;
  if (!base) {
    process.stdout.write('DATABASE_URL unset: database tests run on embedded PGlite\n');
    project.provide('templateDatabase', null);
    return provideEmbeddedTemplates(project);
  }
  const postgres = (await import('postgres')).default;
  const admin = postgres(adminUrl(base), { max: 1, onnotice: () => {} });
  const template = `gateway_test_tpl_${randomBytes(4).toString('hex')}`;
  await admin.unsafe(`CREATE DATABASE "${template}"`);
  const db = await openPostgres(databaseUrlFor(base, template), { max: 1 });
  await db.migrate();
  await db.close();
  project.provide('templateDatabase', template);
  const removeEmbedded = provideEmbeddedTemplates(project);
  return async () => {
    await admin.unsafe(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
    await admin.end();
    removeEmbedded();
  };
}
