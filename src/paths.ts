import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest folder at or above `start` that holds a package.json. */
function packageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${start}`);
  }
}

/**
 * The project's root folder, for the files the gateway reads at run time (migrations, the
 * playground's own assets): found from this file, so it holds both for the sources and for a
 * bundle built anywhere inside the project (dist/gateway.js).
 */
export const projectRoot = packageRoot(dirname(fileURLToPath(import.meta.url)));
