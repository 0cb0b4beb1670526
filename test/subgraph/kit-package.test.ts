// Rule: `npm run build:kit` packs the verifier kit as a package a subgraph installs without the gateway: exact dependencies, plain Node, NodeNext types.
// The consumer here is a project of its own whose node_modules holds the unpacked tarball and links to the packages it names.
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSubgraphKit, KIT_NAME } from '../../src/build/build-subgraph-kit';
import { LogoutDocument } from '../gql/graphql';
import { signUp } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';
import { freePort, ROOT, tempDir } from '../helpers/processes';

let built: string;
let kit: Awaited<ReturnType<typeof buildSubgraphKit>>;
let consumer: string;
let gateway: TestGateway;

beforeAll(async () => {
  built = tempDir('kit-build');
  kit = await buildSubgraphKit(built);
  consumer = tempDir('kit-consumer');
  const modules = path.join(consumer, 'node_modules');
  mkdirSync(path.join(modules, '@graphql-tools'), { recursive: true });
  mkdirSync(path.join(modules, '@types'));
  execFileSync('tar', ['-xzf', kit.tarball, '-C', consumer]);
  renameSync(path.join(consumer, 'package'), path.join(modules, KIT_NAME));
  // What npm would install for it: its dependencies and peers (and Node's types for tsc).
  const installed = [...Object.keys(kit.manifest.dependencies), ...Object.keys(kit.manifest.peerDependencies), '@types/node'];
  for (const name of installed) symlinkSync(path.join(ROOT, 'node_modules', name), path.join(modules, name));
  writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const port = await freePort();
  gateway = await startGateway({ env: { PORT: String(port), JWT_ISSUER: `http://127.0.0.1:${port}` } });
}, 60_000);
afterAll(async () => {
  await gateway?.close();
  for (const dir of [built, consumer]) if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Asynchronous (the gateway the consumer asks runs in this process); a failure shows stdout too (tsc's errors). */
async function node(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    return (await promisify(execFile)(process.execPath, args, { cwd: consumer, encoding: 'utf8', env: { PATH: process.env.PATH, ...env } })).stdout;
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${(error as { stdout?: string }).stdout ?? ''}`);
  }
}

describe('the kit as a package', () => {
  it('depends on exactly what it imports, and carries nothing else of the gateway', async () => {
    expect(kit.manifest.dependencies).toEqual({
      '@graphql-tools/utils': expect.stringMatching(/^\^/),
      jose: expect.stringMatching(/^\^/),
    });
    // ioredis only for the revocation feed: an optional peer.
    expect(kit.manifest.peerDependencies).toEqual({ graphql: '^16.5.0', ioredis: expect.stringMatching(/^\^5\./) });
    expect(kit.manifest.peerDependenciesMeta).toEqual({ ioredis: { optional: true } });
    // A version of its own for each build that changes it, the same for the same sources.
    expect(kit.manifest.version).toMatch(/^\d+\.\d+\.\d+-kit-[0-9a-f]{12}$/);
    expect(path.basename(kit.tarball)).toBe(`${KIT_NAME}-${kit.manifest.version}.tgz`);
    const again = tempDir('kit-build-again');
    try {
      expect((await buildSubgraphKit(again)).manifest.version).toBe(kit.manifest.version);
    } finally {
      rmSync(again, { recursive: true, force: true });
    }
    const files = execFileSync('tar', ['-tzf', kit.tarball], { encoding: 'utf8' }).trim().split('\n').sort();
    expect(files).toEqual(
      ['LICENSE', 'README.md', 'auth-checker.d.ts', 'auth-directives.d.ts', 'clock.d.ts', 'errors.d.ts', 'index.d.ts', 'index.js', 'logger.d.ts', 'package.json', 'revocation-feed.d.ts', 'verifier.d.ts'].map(
        (file) => `package/${file}`,
      ),
    );
    const bundle = readFileSync(path.join(kit.dir, 'index.js'), 'utf8');
    const imports = [...bundle.matchAll(/^import\s[^'"]*['"]([^'"]+)['"]/gm)].map((match) => match[1]);
    expect(new Set(imports)).toEqual(new Set(['jose', '@graphql-tools/utils', 'graphql']));
  });

  it("verifies the gateway's tokens and enforces the directives on plain Node, with the subgraph's graphql", async () => {
    const user = await signUp(gateway);
    const ended = await signUp(gateway);
    await gateway.gql(LogoutDocument, { refreshToken: ended.refreshToken });
    writeFileSync(
      path.join(consumer, 'subgraph.js'),
      `
import { buildSchema, graphql } from 'graphql';
import { applyAuthDirectives, createRevocationFeed, createVerifier } from '${KIT_NAME}';

const env = process.env;
const feed = env.REDIS_URL ? await createRevocationFeed({ redisUrl: env.REDIS_URL, prefix: env.PREFIX }) : undefined;
const verifier = createVerifier({ issuer: env.ISSUER, audience: 'graphql', isRevoked: feed?.isRevoked });
const schema = applyAuthDirectives(
  buildSchema(\`
    directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
    directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
    type Query { me: String @authenticated, cost: Int @requiresScopes(scopes: [["admin"]]) }
  \`),
  { viewerOf: (context) => context.viewer },
);
const rootValue = { me: () => 'me', cost: () => 1 };
const run = async (viewer) => {
  const { data, errors } = await graphql({ schema, source: '{ me cost }', rootValue, contextValue: { viewer } });
  return { data, codes: errors?.map((error) => error.extensions.code) };
};
const live = await verifier.verifyAuthorization('Bearer ' + env.LIVE);
const out = {
  live: live.ok ? live.viewer.roles : live.reason,
  ended: env.ENDED && (await verifier.verify(env.ENDED)).reason,
  forged: (await verifier.verify(env.LIVE.slice(0, -4) + 'AAAA')).reason,
  signedIn: await run(live.ok ? live.viewer : null),
  anonymous: await run(null),
};
await feed?.close();
console.log(JSON.stringify(out));
`,
    );
    const redis = process.env.REDIS_URL;
    const out = JSON.parse(
      await node(['subgraph.js'], {
        ISSUER: gateway.config.jwt.issuer,
        LIVE: user.accessToken,
        ...(redis && { REDIS_URL: redis, PREFIX: gateway.config.rateLimit.prefix, ENDED: ended.accessToken }),
      }),
    );
    expect(out).toEqual({
      live: ['user'],
      // Without Redis there is no feed to follow: the subgraph accepts a token until it expires.
      ...(redis && { ended: 'revoked' }),
      forged: 'invalid',
      signedIn: { data: { me: 'me', cost: null }, codes: ['FORBIDDEN'] },
      anonymous: { data: { me: null, cost: null }, codes: ['UNAUTHENTICATED', 'UNAUTHENTICATED'] },
    });
  }, 30_000);

  it('warns on stderr as JSON lines when no logger is given (Redis unreachable)', async () => {
    writeFileSync(
      path.join(consumer, 'feed.js'),
      `
import { createRevocationFeed } from '${KIT_NAME}';
const feed = await createRevocationFeed({ redisUrl: process.env.REDIS_URL });
await feed.close();
`,
    );
    const { stderr } = await promisify(execFile)(process.execPath, ['feed.js'], {
      cwd: consumer,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, REDIS_URL: `redis://127.0.0.1:${await freePort()}` }, // nothing listens there
    });
    const lines = stderr.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ level: 40, component: 'revocation-feed', msg: expect.stringMatching(/^Redis unreachable/), err: expect.objectContaining({ code: 'ECONNREFUSED' }) });
    expect(typeof lines[0]!.time).toBe('number');
  }, 30_000);

  it('verifies without ioredis installed, and says what the revocation feed needs', async () => {
    const bare = tempDir('kit-consumer-no-redis');
    try {
      const modules = path.join(bare, 'node_modules');
      mkdirSync(path.join(modules, '@graphql-tools'), { recursive: true });
      // A copy: through a link, Node would resolve the kit's imports from the other consumer's folder.
      cpSync(path.join(consumer, 'node_modules', KIT_NAME), path.join(modules, KIT_NAME), { recursive: true });
      for (const name of [...Object.keys(kit.manifest.dependencies), 'graphql']) symlinkSync(path.join(ROOT, 'node_modules', name), path.join(modules, name));
      writeFileSync(path.join(bare, 'package.json'), JSON.stringify({ name: 'no-redis', private: true, type: 'module' }));
      writeFileSync(
        path.join(bare, 'check.js'),
        `
import { createRevocationFeed, createVerifier } from '${KIT_NAME}';
const verifier = createVerifier({ issuer: process.env.ISSUER, audience: 'graphql' });
const live = await verifier.verify(process.env.LIVE);
const feed = await createRevocationFeed({ redisUrl: 'redis://127.0.0.1:1' }).then(async (created) => (await created.close(), 'created'), (error) => error.message);
console.log(JSON.stringify({ live: live.ok, feed }));
`,
      );
      const user = await signUp(gateway);
      const { stdout } = await promisify(execFile)(process.execPath, ['check.js'], {
        cwd: bare,
        encoding: 'utf8',
        timeout: 20_000,
        env: { PATH: process.env.PATH, ISSUER: gateway.config.jwt.issuer, LIVE: user.accessToken },
      });
      expect(JSON.parse(stdout)).toEqual({ live: true, feed: 'the revocation feed needs ioredis: npm install ioredis' });
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  }, 30_000);

  it('loads with require as well (CommonJS subgraphs)', async () => {
    const names = (await node(['--no-warnings', '-p', `Object.keys(require('${KIT_NAME}')).sort().join()`])).trim();
    expect(names).toBe('applyAuthDirectives,createAuthChecker,createRevocationFeed,createVerifier,decide,requirementOf,serviceUnavailable');
  });

  it('type-checks under NodeNext with the libraries checked too, and its types are not any', async () => {
    writeFileSync(
      path.join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          exactOptionalPropertyTypes: true, // options passed on as read, possibly undefined
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
        },
        include: ['*.ts'],
      }),
    );
    writeFileSync(
      path.join(consumer, 'typed.ts'),
      `
import { createAuthChecker, createRevocationFeed, createVerifier, type SubgraphViewer } from '${KIT_NAME}';

const verifier = createVerifier({ issuer: 'https://auth.example', audience: 'graphql' });
export async function viewerOf(header: string | undefined): Promise<SubgraphViewer | null> {
  const result = await verifier.verifyAuthorization(header);
  return result.ok ? result.viewer : null;
}
export const checker = createAuthChecker((context: { viewer: SubgraphViewer | null }) => context.viewer);
export const feed = () => createRevocationFeed({ redisUrl: 'redis://localhost', prefix: process.env.PREFIX, logger: console });
export const fromEnv = createVerifier({ issuer: 'https://auth.example', audience: 'graphql', cooldownSeconds: process.env.COOLDOWN ? Number(process.env.COOLDOWN) : undefined });
// @ts-expect-error the issuer is a string: were the kit's types lost (any), this line would pass
createVerifier({ issuer: 1, audience: 'graphql' });
`,
    );
    // And README's snippets, as a subgraph's project would hold them.
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('\n### In your subgraphs: the verifier kit\n'), readme.indexOf('\n### Key rotation\n'));
    const snippets = [...section.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1]!).filter((code) => code.includes(`from '${KIT_NAME}'`));
    expect(snippets.length).toBeGreaterThanOrEqual(2);
    snippets.forEach((code, i) => writeFileSync(path.join(consumer, `readme-${i}.ts`), code));
    const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
    expect(await node([tsc, '-p', '.'])).toBe('');
  }, 30_000);
});
