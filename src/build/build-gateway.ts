/**
 * The production build: the gateway as an ES module bundle (its packages stay in node_modules)
 * and, beside it, launch.cjs, which sizes libuv's thread pool before loading it. The compiler is
 * esbuild, as under tsx (`npm start`), so decorators behave the same in both.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { build, type BuildOptions } from 'esbuild';
import { projectRoot } from '../paths';

/** How every server here is bundled: for Node 20, its packages left in node_modules. */
export const NODE_BUNDLE: BuildOptions = { bundle: true, platform: 'node', target: 'node20', logLevel: 'warning' };

/** `outDir` must lie inside the project (the bundle finds its packages and files from there). */
export async function buildGateway(outDir = path.join(projectRoot, 'dist')) {
  rmSync(path.join(outDir, 'chunks'), { recursive: true, force: true }); // a previous build's
  await Promise.all([
    build({
      ...NODE_BUNDLE,
      entryPoints: { gateway: path.join(projectRoot, 'src/main.ts') },
      format: 'esm',
      packages: 'external',
      sourcemap: true,
      // What main.ts imports only when needed (the subgraph listener and its federation
      // libraries) stays in a chunk of its own, loaded only then.
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
      outdir: outDir,
    }),
    build({
      ...NODE_BUNDLE,
      entryPoints: [path.join(projectRoot, 'src/launch.ts')],
      format: 'cjs',
      external: ['./gateway.js'],
      outfile: path.join(outDir, 'launch.cjs'),
    }),
  ]);
  return { gateway: path.join(outDir, 'gateway.js'), launcher: path.join(outDir, 'launch.cjs') };
}
