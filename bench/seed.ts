/** Users and sessions for the benchmark, made through the gateway's own API. */

export interface Session {
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
}

interface GqlResponse {
  data?: Record<string, unknown> | null;
  errors?: Array<{ extensions?: { code?: string } }>;
}

const PASSWORD = 'Bench-Password-2024!';

/** One GraphQL call; SERVICE_UNAVAILABLE (the gateway is busy hashing) is retried. */
async function call(url: string, query: string, variables: Record<string, unknown>): Promise<Record<string, unknown>> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    const json = (await response.json()) as GqlResponse;
    const code = json.errors?.[0]?.extensions?.code;
    if (code === 'SERVICE_UNAVAILABLE') {
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    if (json.errors || !json.data) throw new Error(`seeding failed: ${code ?? response.status}`);
    return json.data;
  }
  throw new Error('seeding failed: the gateway stayed busy');
}

/** Runs `task` over `items`, `parallel` at a time. */
async function inParallel<T, R>(items: T[], parallel: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, parallel) }, worker));
  return results;
}

/** `parallel`: how many at once (the gateway's hashing capacity: more would only be shed). */
export async function seedSessions(
  url: string,
  options: { users: number; sessionsPerUser: number; parallel: number },
): Promise<Session[]> {
  const run = Date.now().toString(36);
  const emails = Array.from({ length: options.users }, (_, i) => `bench-${run}-${i}@example.com`);
  await inParallel(emails, options.parallel, (email) =>
    call(url, 'mutation ($e: String!, $p: String!) { register(email: $e, password: $p) }', { e: email, p: PASSWORD }),
  );
  // Round by round, so that the first `users` sessions belong to distinct users.
  const logins = Array.from({ length: options.sessionsPerUser }, () => emails).flat();
  return inParallel(logins, options.parallel, async (email) => {
    const data = await call(
      url,
      'mutation ($e: String!, $p: String!) { login(email: $e, password: $p) { ... on AuthPayload { accessToken refreshToken } } }',
      { e: email, p: PASSWORD },
    );
    const login = data.login as { accessToken: string; refreshToken: string };
    return { email, password: PASSWORD, accessToken: login.accessToken, refreshToken: login.refreshToken };
  });
}
