// Rule: one request cannot multiply guesses or work: more than one credential mutation per
// operation, and documents past the depth/alias/directive/token/cost limits, are refused with
// GRAPHQL_VALIDATION_FAILED (HTTP 400) before anything runs, spending no password check.
import { getIntrospectionQuery, Lexer, Source, TokenKind } from 'graphql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateEncryptionKeyEntry } from '../../src/domain/crypto/secret-box';
import { CREDENTIAL_MUTATIONS } from '../../src/graphql/validation/one-credential-mutation';
import { LoginAndLogoutDocument, LoginDocument, RefreshDocument } from '../gql/graphql';
import { codeOf, PASSWORD, signUp, uniqueEmail } from '../helpers/fixtures';
import { startGateway, type TestGateway } from '../helpers/gateway';

interface RawResult {
  status: number;
  data: Record<string, unknown> | null | undefined;
  errors: Array<{ message: string; extensions: { code: string } }> | undefined;
}

/** Documents that codegen cannot type (they are meant to be refused, or are generated). */
async function raw(gw: TestGateway, query: string, token?: string): Promise<RawResult> {
  const response = await gw.post({ query }, { token });
  const json = (await response.json()) as Omit<RawResult, 'status'>;
  return { status: response.status, data: json.data, errors: json.errors };
}

function expectRefused(result: RawResult, message?: RegExp) {
  expect(result.status).toBe(400);
  expect(result.data).toBeUndefined();
  expect(result.errors?.length).toBeGreaterThan(0);
  for (const error of result.errors!) expect(error.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  // One error per line: a limit's message is matched whole (no "Syntax Error:" in front).
  if (message) expect(result.errors!.map((e) => e.message).join('\n')).toMatch(new RegExp(message.source, 'm'));
}

function expectAccepted(result: RawResult) {
  expect(result.status, JSON.stringify(result.errors)).toBe(200);
  expect(result.errors).toBeUndefined();
  expect(result.data).toBeTruthy();
}

const tokensIn = (document: string) => {
  const lexer = new Lexer(new Source(document));
  let n = 0;
  while (lexer.advance().kind !== TokenKind.EOF) n++;
  return n;
};
const repeat = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join(' ');
/** `levels` nested `... on Query` fragments around `inner`: each level is one more of depth (and ×1.5 cost). */
const nested = (levels: number, inner: string): string =>
  levels === 0 ? inner : `... on Query { ${nested(levels - 1, inner)} }`;
const loginField = (alias: string, email: string, password: string) =>
  `${alias}: login(email: ${JSON.stringify(email)}, password: ${JSON.stringify(password)}) { __typename }`;

// A second gateway with other settings shares the first one's database (and so needs its keys).
const KEYS = generateEncryptionKeyEntry('test');
const sibling = (of: TestGateway, env: Record<string, string>) =>
  startGateway({ database: of.database, encryptionKeys: KEYS, env });

const ONE_CREDENTIAL_RULE = /At most one credential mutation .* per operation/;

describe('credential mutations per operation', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ encryptionKeys: KEYS, env: { LOGIN_LIMIT_EMAIL_IP: '5/60' } });
  });
  afterAll(() => gw.close());

  it('refuses 30 aliased logins and 2 credential mutations per operation before checking any password; the budget stays whole', async () => {
    const { email, refreshToken } = await signUp(gw);
    const verify = vi.spyOn(gw.deps.hasher, 'verify');

    // Correct and wrong passwords alike: had any field run, a session or a failure would exist.
    const aliased = `mutation { ${repeat(30, (i) => loginField(`a${i}`, email, i % 2 ? PASSWORD : `wrong-${i}`))} }`;
    expectRefused(await raw(gw, aliased), ONE_CREDENTIAL_RULE);

    const pairs = {
      'login + register': `mutation { ${loginField('l', email, 'wrong')} register(email: "${uniqueEmail()}", password: "${PASSWORD}") }`,
      'login + refresh': `mutation { ${loginField('l', email, 'wrong')} refresh(refreshToken: "${refreshToken}") { accessToken } }`,
      'one in a named fragment': `mutation { ${loginField('l', email, 'wrong')} ...More }
        fragment More on Mutation { changePassword(currentPassword: "wrong", newPassword: "${PASSWORD}x") }`,
      'one in an inline fragment': `mutation { ${loginField('l', email, 'wrong')} ... on Mutation { ${loginField('m', email, 'wrong')} } }`,
    };
    for (const [what, document] of Object.entries(pairs)) {
      const result = await raw(gw, document);
      expect(result.errors?.map((e) => e.extensions.code), what).toEqual(['GRAPHQL_VALIDATION_FAILED']);
      expectRefused(result, ONE_CREDENTIAL_RULE);
    }
    expect(verify).not.toHaveBeenCalled();
    verify.mockRestore();
    // Nor did the refused refresh rotate the token.
    expect((await gw.gql(RefreshDocument, { refreshToken })).errors).toBeUndefined();

    // The refused requests spent nothing: the full 5 failures are still there, then the block.
    for (let attempt = 1; attempt <= 5; attempt++) {
      expect(codeOf(await gw.gql(LoginDocument, { email, password: `wrong-${attempt}` })), `attempt ${attempt}`).toBe(
        'INVALID_CREDENTIALS',
      );
    }
    expect(codeOf(await gw.gql(LoginDocument, { email, password: PASSWORD }))).toBe('RATE_LIMITED');
  });

  it('refuses 30 aliased logins by the credential rule alone when the alias limit is raised', async () => {
    const lax = await sibling(gw, { GRAPHQL_MAX_ALIASES: '100' });
    try {
      const aliased = `mutation { ${repeat(30, (i) => loginField(`a${i}`, uniqueEmail(), 'wrong'))} }`;
      const result = await raw(lax, aliased);
      expectRefused(result, ONE_CREDENTIAL_RULE);
      expect(result.errors!.map((e) => e.message).join('\n')).not.toMatch(/Aliases limit/);
    } finally {
      await lax.close();
    }
  });

  it('counts every credential mutation: two of any one is refused before it runs', async () => {
    const fields: Record<string, string> = {
      login: 'login(email: "a@example.com", password: "x") { __typename }',
      register: `register(email: "${uniqueEmail()}", password: "${PASSWORD}")`,
      verifyMfa: 'verifyMfa(code: "123456", mfaToken: "t") { accessToken }',
      refresh: 'refresh(refreshToken: "t") { accessToken }',
      changePassword: `changePassword(currentPassword: "x", newPassword: "${PASSWORD}")`,
      enrollMfa: 'enrollMfa(password: "x") { __typename }',
      confirmMfa: 'confirmMfa(code: "123456")',
      disableMfa: 'disableMfa(code: "123456")',
      regenerateRecoveryCodes: 'regenerateRecoveryCodes(code: "123456")',
    };
    expect(Object.keys(fields).sort()).toEqual([...CREDENTIAL_MUTATIONS].sort());
    const { accessToken } = await signUp(gw);
    for (const [name, field] of Object.entries(fields)) {
      const result = await raw(gw, `mutation { a: ${field} b: ${field} }`, accessToken);
      expect(result.status, name).toBe(400);
      expectRefused(result, ONE_CREDENTIAL_RULE);
    }
  });

  it('allows one credential mutation beside a non-credential one', async () => {
    const { email } = await signUp(gw);
    const result = await gw.gql(LoginAndLogoutDocument, { email, password: PASSWORD, refreshToken: 'not-a-token' });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ login: { __typename: 'AuthPayload' }, logout: true });
  });
});

describe('operation types', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(() => gw.close());

  /** Each document refused as the client's mistake, `message` saying why; no server error logged. */
  async function refusedAsMistakes(documents: string[], message: RegExp) {
    const from = gw.logs.length;
    for (const document of documents) expectRefused(await raw(gw, document), message);
    expect(gw.logs.slice(from).join('')).not.toMatch(/"level":50/);
  }

  it('refuses a subscription (the schema has none) as the client\'s mistake, not a server error', async () => {
    await refusedAsMistakes(
      ['subscription { __typename }', 'subscription Watch { me { id } }', 'query Q { __typename } subscription S { __typename }'],
      /does not support subscription operations/,
    );
    expectAccepted(await raw(gw, '{ __typename }'));
  });

  it('refuses a fragment that spreads itself as the client\'s mistake: no rule follows it round for ever', async () => {
    await refusedAsMistakes(
      [
        'mutation { ...A } fragment A on Mutation { ...A }',
        'mutation { ...A } fragment A on Mutation { ...B } fragment B on Mutation { ...A }',
        'query { ...A } fragment A on Query { __typename ...A }',
      ],
      /^Cannot spread fragment "A" within itself/,
    );
  });
});

describe('GraphQL request limits', () => {
  let gw: TestGateway;
  let token: string;
  beforeAll(async () => {
    gw = await startGateway({ encryptionKeys: KEYS });
    token = (await signUp(gw)).accessToken;
  });
  afterAll(() => gw.close());

  it('depth 12 passes, 13 is refused', async () => {
    expectAccepted(await raw(gw, `{ ${nested(10, 'me { id }')} }`, token));
    expectRefused(await raw(gw, `{ ${nested(11, 'me { id }')} }`, token), /^Query depth limit of 12 exceeded, found 13\.$/);
  });

  it('15 aliases pass, 16 are refused', async () => {
    const aliases = (n: number) => `{ ${repeat(n, (i) => `a${i}: me { id }`)} }`;
    expectAccepted(await raw(gw, aliases(15), token));
    expectRefused(await raw(gw, aliases(16), token), /^Aliases limit of 15 exceeded, found 16\.$/);
  });

  it('50 directives pass, 51 are refused', async () => {
    const directives = (n: number) => `{ me { ${repeat(n, () => 'id @include(if: true)')} } }`;
    expectAccepted(await raw(gw, directives(50), token));
    expectRefused(await raw(gw, directives(51), token), /^Directives limit of 50 exceeded, found 51\.$/);
  });

  it('1000 tokens pass, 1001 are refused', async () => {
    // Distinct response names: graphql-js itself aborts validation of ~1000 same-named fields.
    const fields = repeat(332, (i) => `a${i}: __typename`); // __typename aliases are not counted
    const under = `query Q { ${fields} }`;
    const over = `query Q { ${fields} __typename }`;
    expect([tokensIn(under), tokensIn(over)]).toEqual([1000, 1001]);
    expectAccepted(await raw(gw, under));
    expectRefused(await raw(gw, over), /^Token limit of 1000 exceeded\.$/);
  });

  it('cost just under 5000 passes, one scalar more is refused', async () => {
    // armor's cost: 11 nested fragments (depth 12) around 53 scalars cost 4926.36…; a top-level scalar 1.
    const costly = (extra: number) => `{ ${nested(11, repeat(53, () => '__typename'))} ${repeat(extra, () => '__typename')} }`;
    expectAccepted(await raw(gw, costly(73))); // 4999.36…
    expectRefused(await raw(gw, costly(74)), /^Query Cost limit of 5000 exceeded, found 5000\.36[0-9]*\.$/);
  });

  it('a syntax error is GRAPHQL_PARSE_FAILED (400), not a 500', async () => {
    const result = await raw(gw, '{ me { id }');
    expect(result.status).toBe(400);
    expect(codeOf(result)).toBe('GRAPHQL_PARSE_FAILED');
  });

  it('the standard introspection query passes the default limits', async () => {
    const result = await raw(gw, getIntrospectionQuery());
    expectAccepted(result);
    expect((result.data as { __schema: { queryType: { name: string } } }).__schema.queryType.name).toBe('Query');
  });

  it('each limit follows its setting', async () => {
    const strict = await sibling(gw, {
      GRAPHQL_MAX_DEPTH: '2',
      GRAPHQL_MAX_ALIASES: '1',
      GRAPHQL_MAX_DIRECTIVES: '1',
      GRAPHQL_MAX_TOKENS: '20',
      GRAPHQL_MAX_COST: '8',
    });
    try {
      const sixAliasedTypenames = repeat(6, (i) => `a${i}: __typename`); // __typename aliases are not counted
      // [under, over, refusal]: each "over" stays within every other limit.
      const cases: Array<[string, string, RegExp]> = [
        ['{ ... on Query { __typename } }', '{ ... on Query { ... on Query { __typename } } }', /^Query depth limit of 2 exceeded, found 3\.$/],
        ['{ a: me { id } }', '{ a: me { b: id } }', /^Aliases limit of 1 exceeded, found 2\.$/],
        // Another field under the alias __typename would not be counted: refused.
        ['{ a: me { __typename: __typename } }', '{ a: me { __typename: id } }', /The alias __typename is kept for the __typename field/],
        ['{ __typename @skip(if: false) }', '{ __typename @skip(if: false) @include(if: true) }', /^Directives limit of 1 exceeded, found 2\.$/],
        [`{ ${sixAliasedTypenames} }`, `query { ${sixAliasedTypenames} }`, /^Token limit of 20 exceeded\.$/],
        [`{ ${repeat(8, () => '__typename')} }`, `{ ${repeat(9, () => '__typename')} }`, /^Query Cost limit of 8 exceeded, found 9\.$/],
      ];
      // A named fragment spread counts as two levels (README), an inline fragment as one.
      expectRefused(await raw(strict, '{ ...F } fragment F on Query { __typename }'), /^Query depth limit of 2 exceeded, found 3\.$/);
      const [tokenUnder, tokenOver] = cases[4]!;
      expect([tokensIn(tokenUnder), tokensIn(tokenOver)]).toEqual([20, 21]);
      for (const [under, over, refusal] of cases) {
        if (over !== tokenOver) expect(tokensIn(over), over).toBeLessThanOrEqual(20);
        expectAccepted(await raw(strict, under, token));
        expectRefused(await raw(strict, over), refusal);
      }
    } finally {
      await strict.close();
    }
  });
});
