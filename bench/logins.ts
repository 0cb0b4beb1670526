/** The benchmark's login request and how its answers are told apart (used by the harness and the storm's client). */

export const loginBody = (email: string, password: string) =>
  JSON.stringify({
    query: 'mutation ($email: String!, $password: String!) { login(email: $email, password: $password) { __typename } }',
    variables: { email, password },
  });

export const classifyLogin = (status: number, body: string) => {
  if (status === 200 && body.includes('"__typename":"AuthPayload"')) return 'ok';
  if (body.includes('"SERVICE_UNAVAILABLE"')) return 'shed';
  if (body.includes('"RATE_LIMITED"')) return 'rate_limited';
  return 'error';
};
