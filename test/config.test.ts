// Rule: configuration is validated once at start-up with safe defaults; an invalid or missing
// required value stops the start with a ConfigError naming the setting.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { ConfigError, defaultDatabasePoolSize, loadConfig, unknownSettings, type Config } from '../src/config';
import { defaultHashConcurrency } from '../src/thread-pool';
import { passwordHashNiceFor } from '../src/thread-priority';

const key = (id: string, bytes = 32) => `${id}:${randomBytes(bytes).toString('base64')}`;
const PRODUCTION = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://gw@db.internal/gw',
  ENCRYPTION_KEYS: key('k1'),
  REDIS_URL: 'redis://cache.internal:6379',
  JWT_ISSUER: 'https://auth.example.com',
};

function failure(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('defaults', () => {
  it('gives every setting its documented default', () => {
    expect(loadConfig({})).toEqual({
      production: false,
      development: true,
      port: 4000,
      host: '127.0.0.1',
      databaseUrl: undefined,
      databasePoolSize: defaultDatabasePoolSize(),
      dataDir: '.data',
      logLevel: 'info',
      jwt: { issuer: 'http://localhost:4000', audience: 'graphql', alg: 'ES256', accessTokenTtl: 900 },
      keys: { publishAhead: 600, reloadSeconds: 60 },
      revocationPollSeconds: 30,
      refresh: { idleTtl: 1_209_600, maxTtl: 2_592_000, reuseGraceSeconds: 10, transport: 'both', maxSessionsPerUser: 100 },
      argon2: { memoryKib: 19_456, timeCost: 2, parallelism: 1 },
      passwordHashing: {
        concurrency: defaultHashConcurrency(4),
        queue: 4 * defaultHashConcurrency(4),
        perClient: Math.ceil((5 * defaultHashConcurrency(4)) / 2),
        nice: 10,
      },
      accessTokenCacheSize: 10_000,
      passwordPolicy: 'composition',
      mfaIssuer: 'graphql-auth-gateway',
      encryptionKeys: undefined,
      corsOrigins: [],
      playground: true,
      trustProxy: false,
      redisUrl: undefined,
      singleInstance: false,
      rateLimit: {
        prefix: 'gw:rl',
        onRedisFailure: 'insurance',
        loginEmailIp: { points: 5, duration: 900 },
        loginIp: { points: 100, duration: 86_400 },
        loginAccount: { points: 50, duration: 86_400 },
        registerIp: { points: 10, duration: 3600 },
        refreshIp: { points: 600, duration: 60 },
        mfaUser: { points: 10, duration: 900 },
        mfaConsecutive: { points: 100, duration: 1_209_600 },
        mfaAttemptsPerChallenge: 5,
      },
      graphqlLimits: { maxDepth: 12, maxAliases: 15, maxDirectives: 50, maxTokens: 1000, maxCost: 5000 },
    });
  });

  it('derives the issuer from PORT and treats empty strings as unset', () => {
    expect(loadConfig({ PORT: '8080' }).jwt.issuer).toBe('http://localhost:8080');
    expect(loadConfig({ PORT: '', ACCESS_TOKEN_TTL: '', CORS_ORIGINS: '' })).toMatchObject({
      port: 4000,
      jwt: { accessTokenTtl: 900 },
      corsOrigins: [],
    });
  });

  it('reads valid values', () => {
    const config = loadConfig({
      ...PRODUCTION,
      ENCRYPTION_KEYS: `${key('new')}, ${key('old')}, ${key('x'.repeat(32))}`,
      JWT_ALG: 'EdDSA',
      ACCESS_TOKEN_TTL: '3600',
      REFRESH_TOKEN_TRANSPORT: 'cookie',
      PASSWORD_POLICY: 'nist',
      CORS_ORIGINS: 'http://app.example, https://admin.example:8443/',
    });
    expect(config.production).toBe(true);
    expect(config.databaseUrl).toBe(PRODUCTION.DATABASE_URL);
    expect(config.encryptionKeys?.map((k) => [k.id, k.key.length])).toEqual([['new', 32], ['old', 32], ['x'.repeat(32), 32]]);
    expect(config.jwt).toMatchObject({ alg: 'EdDSA', accessTokenTtl: 3600 });
    expect(config.refresh.transport).toBe('cookie');
    expect(config.passwordPolicy).toBe('nist');
    expect(config.corsOrigins).toEqual(['http://app.example', 'https://admin.example:8443']);
    expect(loadConfig({ JWT_ALG: 'RS256' }).jwt.alg).toBe('RS256');
  });

  it('reads limits, TRUST_PROXY and the GraphQL request limits', () => {
    const config = loadConfig({
      LOGIN_LIMIT_EMAIL_IP: '3/60',
      RATE_LIMIT_FAIL: 'closed',
      TRUST_PROXY: '10.0.0.0/8, ::1',
      GRAPHQL_MAX_DEPTH: '6',
    });
    expect(config.rateLimit.loginEmailIp).toEqual({ points: 3, duration: 60 });
    expect(config.rateLimit.onRedisFailure).toBe('closed');
    expect(config.trustProxy).toEqual(['10.0.0.0/8', '::1']);
    expect(config.graphqlLimits.maxDepth).toBe(6);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
  });
});

describe('invalid values name the setting', () => {
  it.each([
    ['ACCESS_TOKEN_TTL', '3601'],
    ['ACCESS_TOKEN_TTL', 'soon'],
    ['JWT_ALG', 'HS256'],
    ['JWT_ALG', 'none'],
    ['REFRESH_TOKEN_TRANSPORT', 'foo'],
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PASSWORD_POLICY', 'lenient'],
    ['ARGON2_MEMORY_KIB', '1024'],
    ['ARGON2_TIME_COST', '0'],
    ['REFRESH_REUSE_GRACE_SECONDS', '-1'],
    ['NODE_ENV', 'staging'],
    ['DATABASE_URL', 'mysql://db/gw'],
    ['JWT_ISSUER', 'not a url'],
    ['ENCRYPTION_KEYS', 'no-separator'],
    ['ENCRYPTION_KEYS', key('short', 16)],
    ['ENCRYPTION_KEYS', `bad id!:${randomBytes(32).toString('base64')}`],
    ['ENCRYPTION_KEYS', key('x'.repeat(33))],
    ['ENCRYPTION_KEYS', `${key('same')},${key('same')}`],
    ['CORS_ORIGINS', 'app.example'],
    ['CORS_ORIGINS', 'http://app.example/path'],
    ['CORS_ORIGINS', 'http://app.example,*'],
    ['LOGIN_LIMIT_EMAIL_IP', '5'],
    ['LOGIN_LIMIT_IP', '0/60'],
    ['REFRESH_LIMIT_IP', 'many/60'],
    // In memory a window ends on a timer, which cannot wait longer than 2^31 - 1 ms.
    ['MFA_LIMIT_CONSECUTIVE', '100/2147484'],
    ['REDIS_URL', 'localhost:6379'],
    ['RATE_LIMIT_FAIL', 'open'],
    ['TRUST_PROXY', 'everyone'],
    ['TRUST_PROXY', '10.0.0.0/33'],
    ['TRUST_PROXY', '0'],
    ['GRAPHQL_MAX_DEPTH', '0'],
    ['PLAYGROUND', 'yes'],
    ['PASSWORD_HASH_CONCURRENCY', '0'],
    ['PASSWORD_HASH_QUEUE', '-1'],
    ['PASSWORD_HASH_PER_CLIENT', '0'],
    ['ACCESS_TOKEN_CACHE_SIZE', 'lots'],
    ['DATABASE_POOL_SIZE', '0'],
    ['DATABASE_POOL_SIZE', '101'],
    ['PASSWORD_HASH_NICE', '-1'],
    ['PASSWORD_HASH_NICE', '20'],
  ])('%s=%s', (setting, value) => {
    expect(failure({ [setting]: value }).message).toContain(setting);
  });

  it('names every setting it cannot read at once, one reason each', () => {
    const { message } = failure({ ACCESS_TOKEN_TTL: 'abc', JWT_ALG: 'xx', PORT: '-1' });
    expect(message.split('; ').map((part) => part.split(':')[0]).sort()).toEqual(['ACCESS_TOKEN_TTL', 'JWT_ALG', 'PORT']);
  });

  it('does not echo secret values in the message', () => {
    const secret = randomBytes(16).toString('base64');
    expect(failure({ ENCRYPTION_KEYS: `k1:${secret}` }).message).not.toContain(secret);
    expect(failure({ DATABASE_URL: 'mysql://gw:hunter2-secret@db/gw' }).message).not.toContain('hunter2');
  });

  it.each([
    [1, 47_104],
    [2, 19_456],
    [3, 12_288],
    [4, 9_216],
    [5, 7_168],
    [20, 7_168],
  ])('refuses argon2 settings below OWASP\'s profile for their passes: t=%i needs m ≥ %i KiB', (passes, memory) => {
    const error = failure({ ARGON2_MEMORY_KIB: String(memory - 1), ARGON2_TIME_COST: String(passes) });
    // 7168 is the setting's own least value: below it, its range is what is refused.
    expect(error.message).toMatch(memory > 7168 ? `ARGON2_MEMORY_KIB must be at least ${memory} with ARGON2_TIME_COST=${passes}` : /^ARGON2_MEMORY_KIB: /);
    expect(loadConfig({ ARGON2_MEMORY_KIB: String(memory), ARGON2_TIME_COST: String(passes) }).argon2.memoryKib).toBe(memory);
  });

  it('refuses a KEY_PUBLISH_AHEAD shorter than KEY_RELOAD_SECONDS + the JWKS cache lifetime (300 s): a key would sign before every verifier has it', () => {
    const error = failure({ KEY_PUBLISH_AHEAD: '300' });
    expect(error.message).toContain('KEY_PUBLISH_AHEAD');
    expect(error.message).toContain('KEY_RELOAD_SECONDS');
    expect(failure({ KEY_RELOAD_SECONDS: '600' }).message).toContain('KEY_PUBLISH_AHEAD');
    expect(loadConfig({ KEY_PUBLISH_AHEAD: '360' }).keys.publishAhead).toBe(360);
    expect(loadConfig({ KEY_PUBLISH_AHEAD: '301', KEY_RELOAD_SECONDS: '1' }).keys.publishAhead).toBe(301);
  });

  it('refuses a KEY_ROTATION_DAYS not longer than KEY_PUBLISH_AHEAD + ACCESS_TOKEN_TTL + 60 s, naming it: a key must sign before the next is added', () => {
    // 7 days = 604800 s. KEY_PUBLISH_AHEAD 603840 + ACCESS_TOKEN_TTL 900 + 60 is exactly 604800: refused.
    const error = failure({ KEY_ROTATION_DAYS: '7', KEY_PUBLISH_AHEAD: '603840' });
    expect(error.message).toMatch(/^KEY_ROTATION_DAYS/);
    expect(error.message).toContain('KEY_PUBLISH_AHEAD');
    expect(error.message).toContain('ACCESS_TOKEN_TTL');
    expect(failure({ KEY_ROTATION_DAYS: '7', KEY_PUBLISH_AHEAD: '604800' }).message).toMatch(/^KEY_ROTATION_DAYS/);
    // The access token lifetime counts: the same publish-ahead with ACCESS_TOKEN_TTL=3600 leaves no margin.
    expect(failure({ KEY_ROTATION_DAYS: '7', KEY_PUBLISH_AHEAD: '603000', ACCESS_TOKEN_TTL: '3600' }).message).toMatch(/^KEY_ROTATION_DAYS/);
    // One second more than the sum: loads.
    expect(loadConfig({ KEY_ROTATION_DAYS: '7', KEY_PUBLISH_AHEAD: '603839' }).keys).toEqual({ publishAhead: 603_839, reloadSeconds: 60, rotationDays: 7 });
    expect(loadConfig({ KEY_ROTATION_DAYS: '7', KEY_PUBLISH_AHEAD: '603000', ACCESS_TOKEN_TTL: '30' }).keys.rotationDays).toBe(7);
    expect(loadConfig({ KEY_ROTATION_DAYS: '8', KEY_PUBLISH_AHEAD: '604800', ACCESS_TOKEN_TTL: '3600' }).keys.rotationDays).toBe(8);
    expect(loadConfig({ KEY_ROTATION_DAYS: '1' }).keys.rotationDays).toBe(1);
  });
});

describe('documented ranges', () => {
  const SECRET = { SUBGRAPH_PORT: '0', SUBGRAPH_SECRET: 'router-secret-'.repeat(3) };
  /**
   * Every integer setting whose range the README's settings tables give: [setting, lowest, highest
   * (undefined: the README gives none), where the config holds it, settings an end needs to pass
   * the cross-checks (memory × time, the publish-ahead margin, the free libuv thread)].
   */
  const RANGES: Array<[string, number, number | undefined, ((c: Config) => unknown) | undefined, Record<string, string>?]> = [
    ['DATABASE_POOL_SIZE', 1, 100, (c) => c.databasePoolSize],
    ['ACCESS_TOKEN_TTL', 30, 3600, (c) => c.jwt.accessTokenTtl],
    ['KEY_PUBLISH_AHEAD', 360, 604_800, (c) => c.keys.publishAhead], // at least KEY_RELOAD_SECONDS (60) + 300
    ['KEY_PUBLISH_AHEAD', 301, 604_800, (c) => c.keys.publishAhead, { KEY_RELOAD_SECONDS: '1' }],
    ['KEY_RELOAD_SECONDS', 1, 3600, (c) => c.keys.reloadSeconds, { KEY_PUBLISH_AHEAD: '604800' }],
    ['KEY_ROTATION_DAYS', 1, 3650, (c) => c.keys.rotationDays],
    ['REVOCATION_POLL_SECONDS', 1, 3600, (c) => c.revocationPollSeconds],
    ['REFRESH_TOKEN_IDLE_TTL', 60, 31_536_000, (c) => c.refresh.idleTtl],
    ['REFRESH_TOKEN_MAX_TTL', 60, 31_536_000, (c) => c.refresh.maxTtl],
    ['REFRESH_REUSE_GRACE_SECONDS', 0, 60, (c) => c.refresh.reuseGraceSeconds],
    ['MAX_SESSIONS_PER_USER', 1, 10_000, (c) => c.refresh.maxSessionsPerUser],
    ['ARGON2_MEMORY_KIB', 7168, 4_194_304, (c) => c.argon2.memoryKib, { ARGON2_TIME_COST: '5' }],
    ['ARGON2_TIME_COST', 1, 20, (c) => c.argon2.timeCost, { ARGON2_MEMORY_KIB: '47104' }],
    ['ARGON2_PARALLELISM', 1, 16, (c) => c.argon2.parallelism],
    // At most UV_THREADPOOL_SIZE − 1 (4 while unset).
    ['PASSWORD_HASH_CONCURRENCY', 1, 3, (c) => c.passwordHashing.concurrency],
    ['PASSWORD_HASH_CONCURRENCY', 1, 1023, (c) => c.passwordHashing.concurrency, { UV_THREADPOOL_SIZE: '1024' }],
    ['PASSWORD_HASH_NICE', 0, 19, (c) => c.passwordHashing.nice],
    ['UV_THREADPOOL_SIZE', 2, 1024, undefined],
    ['PASSWORD_HASH_QUEUE', 0, 10_000, (c) => c.passwordHashing.queue],
    ['PASSWORD_HASH_PER_CLIENT', 1, 11_023, (c) => c.passwordHashing.perClient],
    ['MFA_ATTEMPTS_PER_CHALLENGE', 1, 100, (c) => c.rateLimit.mfaAttemptsPerChallenge],
    ['PORT', 0, 65_535, (c) => c.port],
    ['SUBGRAPH_PORT', 0, 65_535, (c) => c.subgraph?.port, { SUBGRAPH_SECRET: 'router-secret-'.repeat(3) }],
    ['METRICS_PORT', 0, 65_535, (c) => c.metrics?.port],
    ['ACCESS_TOKEN_CACHE_SIZE', 0, 100_000, (c) => c.accessTokenCacheSize],
    ['TRUST_PROXY', 1, 32, (c) => c.trustProxy],
    ['SUBGRAPH_TRUST_PROXY', 1, 32, (c) => c.subgraph?.trustProxy, SECRET],
    ['GRAPHQL_MAX_DEPTH', 1, 1000, (c) => c.graphqlLimits.maxDepth],
    ['GRAPHQL_MAX_ALIASES', 0, 1000, (c) => c.graphqlLimits.maxAliases],
    ['GRAPHQL_MAX_DIRECTIVES', 0, 1000, (c) => c.graphqlLimits.maxDirectives],
    ['GRAPHQL_MAX_TOKENS', 10, 1_000_000, (c) => c.graphqlLimits.maxTokens],
    ['GRAPHQL_MAX_COST', 1, 10_000_000, (c) => c.graphqlLimits.maxCost],
  ];

  const title = (setting: string, low: number, high: number | undefined, needs: Record<string, string>) => {
    const range = high === undefined ? `at least ${low}` : `${low}–${high}`;
    const given = Object.entries(needs).map(([name, value]) => (name.endsWith('SECRET') ? name : `${name}=${value}`));
    return `${setting} ${range}${given.length ? ` (with ${given.join(', ')})` : ''}`;
  };
  it.each(RANGES.map(([setting, low, high, read, needs = {}]) => [title(setting, low, high, needs), setting, low, high, read, needs] as const))(
    '%s: each end is accepted, one beyond it refused, naming the setting',
    (_, setting, low, high, read, needs) => {
      for (const end of high === undefined ? [low] : [low, high]) {
        const config = loadConfig({ ...needs, [setting]: String(end) });
        if (read) expect(read(config), `${setting}=${end}`).toBe(end);
      }
      for (const beyond of high === undefined ? [low - 1] : [low - 1, high + 1]) {
        expect(failure({ ...needs, [setting]: String(beyond) }).message, `${setting}=${beyond}`).toContain(setting);
      }
    },
  );

  it('says the range, and the values a choice takes, in words of its own', () => {
    expect(failure({ ACCESS_TOKEN_TTL: '29' }).message).toBe('ACCESS_TOKEN_TTL: must be from 30 to 3600');
    expect(failure({ PORT: ' ' }).message).toBe('PORT: must be a whole number written in decimal digits, from 0 to 65535');
    expect(failure({ NODE_ENV: 'prod' }).message).toBe('NODE_ENV: must be one of development, production, test');
    expect(failure({ JWT_ALG: 'HS256' }).message).toBe('JWT_ALG: must be one of ES256, EdDSA, RS256');
  });

  const LIMITS = ['LOGIN_LIMIT_EMAIL_IP', 'LOGIN_LIMIT_IP', 'LOGIN_LIMIT_ACCOUNT', 'REGISTER_LIMIT_IP', 'REFRESH_LIMIT_IP', 'MFA_LIMIT_USER', 'MFA_LIMIT_CONSECUTIVE'];
  it.each(LIMITS)('%s: a window of 2147483 s is accepted, one of 2147484 s refused', (setting) => {
    expect(() => loadConfig({ [setting]: '1/2147483' })).not.toThrow();
    expect(failure({ [setting]: '1/2147484' }).message).toContain(setting);
  });
});

describe('values are read strictly', () => {
  const INTEGER_SETTINGS = [
    'PORT', 'DATABASE_POOL_SIZE', 'ACCESS_TOKEN_TTL', 'KEY_PUBLISH_AHEAD', 'KEY_RELOAD_SECONDS', 'KEY_ROTATION_DAYS',
    'SUBGRAPH_PORT', 'REFRESH_TOKEN_IDLE_TTL', 'REFRESH_TOKEN_MAX_TTL', 'REFRESH_REUSE_GRACE_SECONDS', 'MAX_SESSIONS_PER_USER',
    'ARGON2_MEMORY_KIB', 'ARGON2_TIME_COST', 'ARGON2_PARALLELISM', 'PASSWORD_HASH_CONCURRENCY', 'PASSWORD_HASH_QUEUE',
    'PASSWORD_HASH_PER_CLIENT', 'PASSWORD_HASH_NICE', 'UV_THREADPOOL_SIZE', 'ACCESS_TOKEN_CACHE_SIZE',
    'MFA_ATTEMPTS_PER_CHALLENGE', 'METRICS_PORT', 'GRAPHQL_MAX_DEPTH', 'GRAPHQL_MAX_ALIASES', 'GRAPHQL_MAX_DIRECTIVES',
    'GRAPHQL_MAX_TOKENS', 'GRAPHQL_MAX_COST',
  ];

  // Blank used to read as 0 (PORT="   " listened on a random port), and libuv reads
  // UV_THREADPOOL_SIZE=1e3 as 1 where a number parser reads 1000.
  it.each(INTEGER_SETTINGS.flatMap((setting) => ['   ', '\t', '1e3', '0x10', '80.0', ' 5', '5 ', '+5', '5_000'].map((value) => [setting, value])))(
    'integers are decimal digits only: %s=%j is refused, naming it',
    (setting, value) => {
      expect(failure({ [setting]: value }).message).toMatch(new RegExp(`^${setting}: must be a whole number`));
    },
  );

  it('still reads plain digits, zero where the range has it, and leading zeros', () => {
    expect(loadConfig({ PORT: '0' }).port).toBe(0);
    expect(loadConfig({ PORT: '08080' }).port).toBe(8080);
    expect(loadConfig({ ACCESS_TOKEN_CACHE_SIZE: '0', GRAPHQL_MAX_ALIASES: '0', REFRESH_REUSE_GRACE_SECONDS: '0' })).toMatchObject({
      accessTokenCacheSize: 0,
      graphqlLimits: { maxAliases: 0 },
      refresh: { reuseGraceSeconds: 0 },
    });
    expect(loadConfig({ PASSWORD_HASH_CONCURRENCY: '1', PASSWORD_HASH_QUEUE: '0' }).passwordHashing.queue).toBe(0);
    expect(loadConfig({ UV_THREADPOOL_SIZE: '1000' }).passwordHashing.concurrency).toBe(defaultHashConcurrency(1000));
  });

  it.each([
    ['HOST', '   '],
    ['DATA_DIR', ' '],
    ['JWT_AUDIENCE', '  '],
    ['MFA_ISSUER', '\t'],
    ['SUBGRAPH_SECRET', ' '.repeat(40)],
  ])('free text of only spaces is refused: %s=%j', (setting, value) => {
    expect(failure({ SUBGRAPH_PORT: '0', SUBGRAPH_SECRET: 'router-secret-'.repeat(3), [setting]: value }).message).toBe(`${setting}: must not be blank`);
  });

  it.each(['javascript:alert(1)', 'foo:bar', 'ftp://auth.example.com', 'https:auth.example.com', 'mailto:ops@example.com'])(
    'JWT_ISSUER must be an http: or https: URL: %s is refused',
    (value) => {
      expect(failure({ JWT_ISSUER: value }).message).toBe('JWT_ISSUER: must be an http:// or https:// URL');
    },
  );

  it('reads http and https issuers', () => {
    expect(loadConfig({ JWT_ISSUER: 'https://auth.example.com' }).jwt.issuer).toBe('https://auth.example.com');
    expect(loadConfig({ JWT_ISSUER: 'http://localhost:4000' }).jwt.issuer).toBe('http://localhost:4000');
    expect(loadConfig({ JWT_ISSUER: 'https://auth.example.com/realms/app/' }).jwt.issuer).toBe('https://auth.example.com/realms/app/');
  });

  it.each([
    ['https://u:p@auth.example.com', 'must hold no user or password'],
    ['https://auth.example.com/?x=1', 'must have no query or fragment'],
    ['https://auth.example.com/#f', 'must have no query or fragment'],
    ['https://auth.example.com?', 'must have no query or fragment'],
    ['https://*', '"*" is no host name'],
    ['HTTPS://Auth.Example.COM', 'write it as URL parsers do, https://auth.example.com'],
    ['https://auth.example.com:443', 'write it as URL parsers do, https://auth.example.com'],
  ])('JWT_ISSUER %s is refused: verifiers compare it exactly and fetch the keys below it', (value, message) => {
    expect(failure({ JWT_ISSUER: value }).message).toContain(`JWT_ISSUER: ${message}`);
  });

  it('JWT_ISSUER in production: https, or http only for a loopback host', () => {
    for (const issuer of ['http://auth.example.com', 'http://10.0.0.5:4000']) {
      expect(failure({ ...PRODUCTION, JWT_ISSUER: issuer }).message).toMatch(/^JWT_ISSUER: production needs an https:\/\/ URL/);
      expect(loadConfig({ JWT_ISSUER: issuer }).jwt.issuer).toBe(issuer); // development takes it
    }
    for (const issuer of ['http://127.0.0.1:4000', 'http://localhost:4000', 'http://[::1]:4000', 'https://auth.example.com']) {
      expect(loadConfig({ ...PRODUCTION, JWT_ISSUER: issuer }).jwt.issuer).toBe(issuer);
    }
  });

  it('SUBGRAPH_SECRET that a header could never carry, or one character repeated, is refused', () => {
    for (const secret of [` ${'x1'.repeat(20)}`, `${'x1'.repeat(20)} `, `${'x1'.repeat(20)}\u00e9`, 'a'.repeat(40)]) {
      expect(failure({ SUBGRAPH_PORT: '0', SUBGRAPH_SECRET: secret }).message).toMatch(/^SUBGRAPH_SECRET: /);
    }
    expect(loadConfig({ SUBGRAPH_PORT: '0', SUBGRAPH_SECRET: 'Router secret with inner spaces 42!' }).subgraph?.secret).toBe('Router secret with inner spaces 42!');
  });

  it.each(['0.0.0.0/0', '0.0.0.0/1', '::/0', '8000::/1', '10.0.0.0/7'])('TRUST_PROXY and SUBGRAPH_TRUST_PROXY refuse %s: wider than any private network', (range) => {
    expect(failure({ TRUST_PROXY: range }).message).toMatch(/^TRUST_PROXY: .* is wider than any private network/);
    expect(failure({ SUBGRAPH_TRUST_PROXY: `192.168.0.0/16,${range}` }).message).toMatch(/^SUBGRAPH_TRUST_PROXY: .* is wider/);
  });

  it('TRUST_PROXY takes the widest private networks', () => {
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, fc00::/7' }).trustProxy).toEqual(['10.0.0.0/8', 'fc00::/7']);
  });

  it.each([
    [{ METRICS_PORT: '4000' }, 'METRICS_PORT: 4000 is PORT already'],
    [{ PORT: '5000', SUBGRAPH_PORT: '5000', SUBGRAPH_SECRET: 'router-secret-'.repeat(3) }, 'SUBGRAPH_PORT: 5000 is PORT already'],
    [{ METRICS_PORT: '9000', SUBGRAPH_PORT: '9000', SUBGRAPH_SECRET: 'router-secret-'.repeat(3) }, 'SUBGRAPH_PORT: 9000 is METRICS_PORT already'],
  ])('two listeners on one port are refused before either listens: %j', (env, message) => {
    expect(failure(env).message).toContain(message);
  });

  it('port 0 (any free port) for several listeners is fine', () => {
    expect(loadConfig({ PORT: '0', METRICS_PORT: '0', SUBGRAPH_PORT: '0', SUBGRAPH_SECRET: 'router-secret-'.repeat(3) }).port).toBe(0);
  });

  it('an ENCRYPTION_KEYS key with characters base64 has not, or the same key under two ids, is refused', () => {
    const encoded = randomBytes(32).toString('base64');
    expect(failure({ ENCRYPTION_KEYS: `k1:${encoded.slice(0, 20)}!${encoded.slice(20)}` }).message).toMatch(/^ENCRYPTION_KEYS: each entry must be id:base64/);
    expect(failure({ ENCRYPTION_KEYS: `k1:${encoded},k2:${encoded}` }).message).toBe('ENCRYPTION_KEYS: the same key is listed under two ids');
    expect(loadConfig({ ENCRYPTION_KEYS: `k1:${encoded}` }).encryptionKeys).toHaveLength(1);
  });

  it.each([
    ['TRUST_PROXY', ' '],
    ['TRUST_PROXY', ','],
    ['TRUST_PROXY', ' , ,'],
    ['SUBGRAPH_TRUST_PROXY', ','],
    ['SUBGRAPH_TRUST_PROXY', '  '],
    ['CORS_ORIGINS', ' , '],
  ])('a list of nothing is refused: %s=%j', (setting, value) => {
    expect(failure({ [setting]: value }).message).toMatch(new RegExp(`^${setting}: lists no`));
    expect(failure({ SUBGRAPH_PORT: '0', SUBGRAPH_SECRET: 'router-secret-'.repeat(3), [setting]: value }).message).toMatch(new RegExp(`^${setting}: lists no`));
  });

  it.each([
    ['32 zero bytes', Buffer.alloc(32, 0)],
    ['32 equal bytes', Buffer.alloc(32, 0x41)],
  ])('an ENCRYPTION_KEYS key of %s is refused, naming its id and not the key', (_, bytes) => {
    const weak = `weak:${bytes.toString('base64')}`;
    for (const value of [weak, `${key('good')},${weak}`]) {
      const { message } = failure({ ENCRYPTION_KEYS: value });
      expect(message).toMatch(/^ENCRYPTION_KEYS: key "weak" is not random/);
      expect(message).not.toContain(bytes.toString('base64'));
    }
  });
});

describe('password hashing priority', () => {
  it('is nice 10 by default, 0 to 19 when set; the launcher leaves an invalid value to the check above', () => {
    expect(loadConfig({}).passwordHashing.nice).toBe(10);
    expect(loadConfig({ PASSWORD_HASH_NICE: '19' }).passwordHashing.nice).toBe(19);
    expect(passwordHashNiceFor({})).toBe(10);
    expect(passwordHashNiceFor({ PASSWORD_HASH_NICE: '' })).toBe(10); // as loadConfig reads an empty value
    expect(loadConfig({ PASSWORD_HASH_NICE: '' }).passwordHashing.nice).toBe(10);
    expect(passwordHashNiceFor({ PASSWORD_HASH_NICE: '0' })).toBe(0);
    expect(passwordHashNiceFor({ PASSWORD_HASH_NICE: '19' })).toBe(19);
    for (const invalid of ['-1', '20', '5.5', 'low', ' 5', '5.0', '1e1']) expect(passwordHashNiceFor({ PASSWORD_HASH_NICE: invalid })).toBeUndefined();
  });
});

describe('metrics listener', () => {
  it('listens on the loopback interface unless METRICS_HOST says otherwise, even where HOST opens the public port', () => {
    expect(loadConfig({}).metrics).toBeUndefined();
    expect(loadConfig({ METRICS_PORT: '9464' }).metrics).toEqual({ port: 9464, host: '127.0.0.1' });
    expect(loadConfig({ METRICS_PORT: '9464', HOST: '0.0.0.0' })).toMatchObject({ host: '0.0.0.0', metrics: { port: 9464, host: '127.0.0.1' } });
    // Production listens on 0.0.0.0 by default; its metrics do not follow.
    expect(loadConfig({ ...PRODUCTION, METRICS_PORT: '9464' })).toMatchObject({ host: '0.0.0.0', metrics: { port: 9464, host: '127.0.0.1' } });
    expect(loadConfig({ METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' }).metrics).toEqual({ port: 9464, host: '0.0.0.0' });
    expect(loadConfig({ ...PRODUCTION, METRICS_PORT: '9464', METRICS_HOST: '10.0.0.5' }).metrics).toEqual({ port: 9464, host: '10.0.0.5' });
    expect(loadConfig({ METRICS_PORT: '9464', METRICS_HOST: '' }).metrics).toEqual({ port: 9464, host: '127.0.0.1' }); // empty is unset
  });
});

describe('development mode', () => {
  it('is on only for NODE_ENV=development, the default (unset or empty): not for test nor production', () => {
    expect(loadConfig({}).development).toBe(true);
    expect(loadConfig({ NODE_ENV: '' }).development).toBe(true);
    expect(loadConfig({ NODE_ENV: 'development' })).toMatchObject({ development: true, production: false });
    expect(loadConfig({ NODE_ENV: 'test' })).toMatchObject({ development: false, production: false });
    expect(loadConfig(PRODUCTION)).toMatchObject({ development: false, production: true });
  });
});

describe('database pool', () => {
  it('opens two connections per core by default, at most ten, or what DATABASE_POOL_SIZE says', () => {
    expect(defaultDatabasePoolSize(1)).toBe(2);
    expect(defaultDatabasePoolSize(2)).toBe(4);
    expect(defaultDatabasePoolSize(5)).toBe(10);
    expect(defaultDatabasePoolSize(64)).toBe(10);
    expect(loadConfig({}).databasePoolSize).toBe(Math.min(10, 2 * availableParallelism()));
    expect(loadConfig({ DATABASE_POOL_SIZE: '25' }).databasePoolSize).toBe(25);
  });
});

describe('password hashing', () => {
  it('hashes on half the cores by default, at least one, leaving libuv a thread for the rest', () => {
    expect(defaultHashConcurrency(4, 1)).toBe(1);
    expect(defaultHashConcurrency(4, 2)).toBe(1);
    expect(defaultHashConcurrency(4, 3)).toBe(1); // an odd core count rounds down: the half left serves
    expect(defaultHashConcurrency(4, 4)).toBe(2);
    expect(defaultHashConcurrency(16, 5)).toBe(2);
    expect(defaultHashConcurrency(4, 16)).toBe(3);
    expect(defaultHashConcurrency(16, 16)).toBe(8);
    const { concurrency, queue } = loadConfig({}).passwordHashing;
    expect(concurrency).toBe(Math.max(1, Math.min(Math.floor(availableParallelism() / 2), 3)));
    expect(queue).toBe(4 * concurrency);
    // One client holds at most half of the places (running and waiting), at least one.
    expect(loadConfig({}).passwordHashing.perClient).toBe(Math.ceil((5 * concurrency) / 2));
    expect(loadConfig({ PASSWORD_HASH_CONCURRENCY: '1', PASSWORD_HASH_QUEUE: '0' }).passwordHashing.perClient).toBe(1);
  });

  it('takes explicit values, and more concurrency with a larger thread pool', () => {
    expect(loadConfig({ PASSWORD_HASH_CONCURRENCY: '3', PASSWORD_HASH_QUEUE: '0' }).passwordHashing).toEqual({ concurrency: 3, queue: 0, perClient: 2, nice: 10 });
    expect(loadConfig({ PASSWORD_HASH_CONCURRENCY: '8', UV_THREADPOOL_SIZE: '12' }).passwordHashing).toEqual({ concurrency: 8, queue: 32, perClient: 20, nice: 10 });
    expect(loadConfig({ PASSWORD_HASH_PER_CLIENT: '1' }).passwordHashing.perClient).toBe(1);
  });

  it('refuses as many hashes at once as libuv has threads, naming both settings', () => {
    const error = failure({ PASSWORD_HASH_CONCURRENCY: '4' });
    expect(error.message).toContain('PASSWORD_HASH_CONCURRENCY');
    expect(error.message).toContain('UV_THREADPOOL_SIZE');
  });

  it('refuses a thread pool of one thread, naming UV_THREADPOOL_SIZE: it cannot both hash and serve the rest', () => {
    expect(failure({ UV_THREADPOOL_SIZE: '1' }).message).toMatch(/^UV_THREADPOOL_SIZE/m);
    expect(loadConfig({ UV_THREADPOOL_SIZE: '2' }).passwordHashing.concurrency).toBe(1);
  });
});

describe('production', () => {
  it('refuses the embedded database, naming DATABASE_URL', () => {
    const { DATABASE_URL: _, ...env } = PRODUCTION;
    expect(failure(env).message).toContain('DATABASE_URL');
  });

  it('refuses to run without explicit ENCRYPTION_KEYS', () => {
    const { ENCRYPTION_KEYS: _, ...env } = PRODUCTION;
    expect(failure(env).message).toContain('ENCRYPTION_KEYS');
  });

  it('seals nothing new under the development key (dev1): it may only follow a production key, to open what it sealed', () => {
    expect(failure({ ...PRODUCTION, ENCRYPTION_KEYS: `${key('dev1')},${key('k1')}` }).message).toMatch(
      /^ENCRYPTION_KEYS: the current \(first\) key is "dev1", the id of the development key `npm start` generates into DATA_DIR: put a key generated for production first/,
    );
    expect(loadConfig({ ...PRODUCTION, ENCRYPTION_KEYS: `${key('k1')},${key('dev1')}` }).encryptionKeys!.map((k) => k.id)).toEqual(['k1', 'dev1']);
    // Development and test keep the key npm start made.
    expect(loadConfig({ ENCRYPTION_KEYS: key('dev1') }).encryptionKeys!.map((k) => k.id)).toEqual(['dev1']);
  });

  it('names every requirement it lacks at once, with how to make a key', () => {
    expect(failure({ NODE_ENV: 'production' }).message).toBe(
      'NODE_ENV=production requires DATABASE_URL (the embedded database is for development only); ' +
        `ENCRYPTION_KEYS (generate a key with: node -e "console.log('k1:'+require('crypto').randomBytes(32).toString('base64'))"); ` +
        "JWT_ISSUER (the gateway's public URL, the same for every instance: verifiers fetch the keys from it); " +
        "REDIS_URL (or set SINGLE_INSTANCE=true to keep limits in one instance's memory)",
    );
  });

  it('refuses the development issuer (localhost), naming JWT_ISSUER', () => {
    const { JWT_ISSUER: _, ...env } = PRODUCTION;
    expect(failure(env).message).toBe("NODE_ENV=production requires JWT_ISSUER (the gateway's public URL, the same for every instance: verifiers fetch the keys from it)");
  });

  it('starts with all four set', () => {
    expect(loadConfig(PRODUCTION).production).toBe(true);
  });

  it('serves the playground only when PLAYGROUND=on says so (development and test: unless off)', () => {
    expect(loadConfig(PRODUCTION).playground).toBe(false);
    expect(loadConfig({ ...PRODUCTION, PLAYGROUND: 'on' }).playground).toBe(true);
    expect(loadConfig({ NODE_ENV: 'test' }).playground).toBe(true);
    expect(loadConfig({ PLAYGROUND: 'off' }).playground).toBe(false);
  });

  it('refuses to keep rate limits in one instance\'s memory unless SINGLE_INSTANCE=true says so', () => {
    const { REDIS_URL: _, ...env } = PRODUCTION;
    expect(failure(env).message).toContain('REDIS_URL');
    expect(failure(env).message).toContain('SINGLE_INSTANCE=true');
    expect(loadConfig({ ...env, SINGLE_INSTANCE: 'true' }).singleInstance).toBe(true);
  });
});

describe('unknown settings', () => {
  it('names what shares a first word with a setting but is none, not other programs\' names', () => {
    const env = { JWT_ISUER: 'x', REFRESH_TOKEN_TRANSPRT: 'cookie', RATE_LIMIT_FAILURE: 'closed', JWT_ISSUER: 'https://a.example', NODE_OPTIONS: '--x', UV_USE_IO_URING: '0', PATH: '/bin', HOME: '/root', npm_config_x: '1', CI: 'true' };
    expect(unknownSettings(env)).toEqual(['JWT_ISUER', 'RATE_LIMIT_FAILURE', 'REFRESH_TOKEN_TRANSPRT']);
  });
});

describe('values compared exactly', () => {
  it('refuses a JWT_AUDIENCE with a space at either end (every verifier compares it as it is)', () => {
    for (const audience of [' graphql', 'graphql ', ' graphql ']) {
      expect(failure({ JWT_AUDIENCE: audience }).message).toBe('JWT_AUDIENCE: must not begin or end with a space');
    }
    expect(loadConfig({ JWT_AUDIENCE: 'my api' }).jwt.audience).toBe('my api');
  });

  it.each([
    ['https://App.example', 'https://app.example'],
    ['https://app.example:443', 'https://app.example'],
    ['HTTP://app.example:8080', 'http://app.example:8080'],
  ])('refuses CORS origin %s, saying how browsers send it (%s)', (origin, written) => {
    expect(failure({ CORS_ORIGINS: origin }).message).toBe(`CORS_ORIGINS: write "${origin}" as browsers send it, ${written}`);
  });
});

// From a mutation audit: bounds and refusals no other test reached.
describe('bounds and refusals', () => {
  it('refuses a limit window of 0 s (rate-limiter-flexible would never reset it: a lock for good) and more than 9 digits', () => {
    expect(failure({ LOGIN_LIMIT_EMAIL_IP: '5/0' }).message).toBe('LOGIN_LIMIT_EMAIL_IP: points and seconds must be at least 1');
    expect(failure({ LOGIN_LIMIT_IP: '1234567890/60' }).message).toMatch(/^LOGIN_LIMIT_IP: must be written/);
  });

  it('caps MFA_ISSUER at 64 characters and RATE_LIMIT_PREFIX at 64 of its own characters (no space, no Redis hash-tag braces)', () => {
    expect(failure({ MFA_ISSUER: 'a'.repeat(65) }).message).toMatch(/^MFA_ISSUER/);
    expect(loadConfig({ MFA_ISSUER: 'a'.repeat(64) }).mfaIssuer).toHaveLength(64);
    // The label of the otpauth URI is `issuer:account`: an app would read "Acme" as the issuer.
    expect(failure({ MFA_ISSUER: 'Acme: Corp' }).message).toBe('MFA_ISSUER: must hold no colon (apps read the account from after the first one)');
    expect(loadConfig({ MFA_ISSUER: 'Acme Corp (staging)' }).mfaIssuer).toBe('Acme Corp (staging)');
    for (const prefix of ['a'.repeat(65), 'gw rl', 'gw{rl}']) expect(failure({ RATE_LIMIT_PREFIX: prefix }).message, prefix).toMatch(/^RATE_LIMIT_PREFIX: /);
    expect(loadConfig({ RATE_LIMIT_PREFIX: 'a'.repeat(64) }).rateLimit.prefix).toHaveLength(64);
  });

  it('refuses an ENCRYPTION_KEYS that lists no key, in development and in production', () => {
    for (const env of [{ ENCRYPTION_KEYS: ',' }, { ...PRODUCTION, ENCRYPTION_KEYS: ' , ' }]) {
      expect(failure(env).message).toBe('ENCRYPTION_KEYS: at least one key is required');
    }
  });

  it('reads TRUST_PROXY ranges exactly: single hosts pass, an IPv6 range wider than fc00::/7 and malformed prefixes do not', () => {
    expect(loadConfig({ TRUST_PROXY: '10.0.0.1/32, ::1/128' }).trustProxy).toEqual(['10.0.0.1/32', '::1/128']);
    expect(failure({ TRUST_PROXY: 'fc00::/6' }).message).toMatch(/is wider than any private network/);
    for (const value of ['10.0.0.0/8/16', '10.0.0.0/8.0', '10.0.0.0/0008']) expect(failure({ TRUST_PROXY: value }).message, value).toMatch(/^TRUST_PROXY: .* is neither/);
  });

  it('in production, takes an http JWT_ISSUER only on loopback itself, not on a host that looks like it', () => {
    for (const issuer of ['http://localhost.example.com', 'http://127.0.0.1.nip.io', 'http://0.0.0.0:4000']) {
      expect(failure({ ...PRODUCTION, JWT_ISSUER: issuer }).message, issuer).toMatch(/^JWT_ISSUER: production needs an https/);
    }
  });

  it('in production, refuses the development key as the only key too', () => {
    expect(failure({ ...PRODUCTION, ENCRYPTION_KEYS: key('dev1') }).message).toMatch(/^ENCRYPTION_KEYS: the current \(first\) key is "dev1"/);
  });

  it('asks for a SUBGRAPH_SECRET of 32 characters, on port 0 too', () => {
    expect(failure({ SUBGRAPH_PORT: '4001', SUBGRAPH_SECRET: `${'xy'.repeat(15)}z` }).message).toMatch(/^SUBGRAPH_SECRET of at least 32/);
    expect(failure({ SUBGRAPH_PORT: '0' }).message).toContain('SUBGRAPH_SECRET');
  });

  it('never repeats a refused secret or password in its message', () => {
    const issuer = failure({ JWT_ISSUER: 'https://:s3cret@auth.example.com' }).message;
    expect(issuer).toMatch(/^JWT_ISSUER: must hold no user or password/);
    expect(issuer).not.toContain('s3cret');
    for (const secret of [` ${'x1'.repeat(20)}`, `${'x1'.repeat(20)}\u00e9`, 'q'.repeat(40)]) {
      expect(failure({ SUBGRAPH_PORT: '0', SUBGRAPH_SECRET: secret }).message).not.toContain(secret.trim());
    }
    expect(failure({ REDIS_URL: 'http://:hunter2@cache:6379' }).message).not.toContain('hunter2');
  });

  it('refuses URLs of other schemes that merely contain the right one (a JDBC URL, say)', () => {
    expect(failure({ DATABASE_URL: 'jdbc:postgresql://db/gw' }).message).toMatch(/^DATABASE_URL: /);
    expect(failure({ REDIS_URL: 'tcp+redis://cache:6379' }).message).toMatch(/^REDIS_URL: /);
  });

  it("flags no name of Node's own or of one word as a misspelt setting", () => {
    expect(unknownSettings({ NODE_EXTRA_CA_CERTS: '/x', NODE_TLS_REJECT_UNAUTHORIZED: '1', NODE_DEBUG: 'x', REDIS: 'x', HOST_IP: 'x', PORT_X: '1' })).toEqual([]);
  });
});
