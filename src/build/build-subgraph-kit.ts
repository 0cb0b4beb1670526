/**
 * The verifier kit (src/subgraph) as a package of its own, so that a subgraph installs it
 * without the gateway: one ES module bundle (esbuild, as the gateway's build; the gateway files
 * it uses are bundled in), its type declarations (the TypeScript compiler's), a package.json
 * whose dependencies are exactly the packages the bundle imports, from the versions the gateway
 * is tested with, and the tarball `npm pack` makes of it.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { build } from 'esbuild';
import ts from 'typescript';
import { projectRoot } from '../paths';
import { NODE_BUNDLE } from './build-gateway';

export const KIT_NAME = 'graphql-auth-gateway-subgraph';
const SOURCE = path.join(projectRoot, 'src/subgraph');
/**
 * Packages whose objects cross between the subgraph and the kit (a schema, a GraphQLError):
 * there must be one copy, the subgraph's, so the kit names them as peers, with the oldest
 * version it works with (a subgraph should not have to upgrade for it). graphql: the
 * GraphQLError options object came in 16.4; 16.5 is also Apollo Federation's floor.
 */
const PEERS: Record<string, string> = { graphql: '^16.5.0' };

interface RootManifest {
  version: string;
  license: string;
  engines: Record<string, string>;
  dependencies: Record<string, string>;
}

/** Builds the package into `outDir/subgraph-kit` and packs it beside that folder. */
export async function buildSubgraphKit(outDir = path.join(projectRoot, 'dist')) {
  const root = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as RootManifest;
  const dir = path.join(outDir, 'subgraph-kit');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  const bundled = await build({
    ...NODE_BUNDLE,
    entryPoints: [path.join(SOURCE, 'index.ts')],
    format: 'esm',
    packages: 'external',
    metafile: true,
    outfile: path.join(dir, 'index.js'),
  });
  const imports = Object.values(bundled.metafile.outputs).flatMap((output) => output.imports);
  const declared = writeDeclarations(dir);
  copyFileSync(path.join(projectRoot, 'LICENSE'), path.join(dir, 'LICENSE'));
  const packagesOf = (specifiers: string[]) => new Set(specifiers.filter((specifier) => !isBuiltin(specifier)).map(packageOf));
  const packages = packagesOf([...imports.map((entry) => entry.path), ...declared]);
  // Imported only when a feature is used (`await import`), by nothing else and no declaration:
  // an optional peer, which a subgraph installs only if it uses that feature.
  const required = packagesOf([...imports.filter((entry) => entry.kind !== 'dynamic-import').map((entry) => entry.path), ...declared]);

  const dependencies: Record<string, string> = {};
  const peerDependencies: Record<string, string> = {};
  const peerDependenciesMeta: Record<string, { optional: true }> = {};
  for (const name of [...packages].sort()) {
    const version = root.dependencies[name];
    if (!version) throw new Error(`the kit imports ${name}, which the gateway does not depend on`);
    if (Object.hasOwn(PEERS, name)) peerDependencies[name] = PEERS[name]!;
    else if (!required.has(name)) {
      peerDependencies[name] = `^${version}`;
      peerDependenciesMeta[name] = { optional: true };
    } else dependencies[name] = `^${version}`;
  }
  const fields = {
    description: "Verify a graphql-auth-gateway's access tokens in a subgraph: JWKS discovery and caching, the revocation feed, @authenticated/@requiresScopes, a type-graphql authChecker.",
    license: root.license,
    type: 'module',
    engines: root.engines,
    sideEffects: false,
    exports: { '.': { types: './index.d.ts', default: './index.js' }, './package.json': './package.json' },
    types: './index.d.ts',
    dependencies,
    peerDependencies,
    peerDependenciesMeta,
  };
  // Each build that changes the kit has a version (and a tarball name) of its own: npm, which
  // knows an installed tarball by its name and integrity, would otherwise keep the old one.
  // (`kit-` keeps the identifier valid semver even when the hash is all digits.)
  const manifest = { name: KIT_NAME, version: `${root.version}-kit-${contentHash(dir, JSON.stringify(fields))}`, ...fields };
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  writeFileSync(
    path.join(dir, 'README.md'),
    `# ${KIT_NAME}\n\nThe verifier kit of graphql-auth-gateway, for subgraphs: see the gateway's README, "In your subgraphs: the verifier kit".\n`,
  );

  const packed = JSON.parse(execFileSync('npm', ['pack', dir, '--json', '--pack-destination', outDir], { encoding: 'utf8' })) as Array<{ filename: string }>;
  return { dir, tarball: path.join(outDir, packed[0]!.filename), manifest };
}

/**
 * Writes the declarations of src/subgraph's files (the compiler's, with the project's
 * settings) and returns the packages they import. They must import nothing else of the gateway.
 */
function writeDeclarations(dir: string) {
  const config = ts.getParsedCommandLineOfConfigFile(path.join(projectRoot, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    },
  })!;
  const program = ts.createProgram([path.join(SOURCE, 'index.ts')], {
    ...config.options,
    noEmit: false,
    declaration: true,
    emitDeclarationOnly: true,
    rootDir: path.join(projectRoot, 'src'),
    outDir: path.join(dir, 'src'), // never written: each file goes to its place below
  });
  const specifiers: string[] = [];
  const emitted = program.emit(undefined, (emittedAt, text) => {
    const file = path.join(dir, path.relative(path.join(dir, 'src/subgraph'), emittedAt));
    // Declarations of the gateway's own files outside the kit are not part of its interface.
    if (path.relative(dir, file).startsWith('..')) return;
    // A type reference would need a package (say @types/node) that the manifest does not name.
    if (text.includes('/// <reference')) throw new Error(`${path.basename(file)} references types the kit does not depend on`);
    for (const [, specifier] of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
      if (specifier!.startsWith('.') && !/^\.\/[\w-]+\.js$/.test(specifier!)) {
        throw new Error(`${path.basename(file)} imports ${specifier}: the kit's declarations may import only its own files, by their .js names`);
      }
      if (!specifier!.startsWith('.')) specifiers.push(specifier!);
    }
    writeFileSync(file, text);
  });
  const errors = ts.getPreEmitDiagnostics(program).concat(emitted.diagnostics);
  if (errors.length > 0) throw new Error(ts.formatDiagnostics(errors, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => projectRoot, getNewLine: () => '\n' }));
  return specifiers;
}

/** Of the bundle, the declarations and `extra` (the rest of the manifest): the same sources build the same version. */
function contentHash(dir: string, extra: string) {
  const hash = createHash('sha256').update(extra).update('\0');
  for (const file of readdirSync(dir).sort()) hash.update(file).update('\0').update(readFileSync(path.join(dir, file))).update('\0');
  return hash.digest('hex').slice(0, 12);
}

const isBuiltin = (specifier: string) => specifier.startsWith('node:') || builtinModules.includes(specifier);
/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
const packageOf = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
