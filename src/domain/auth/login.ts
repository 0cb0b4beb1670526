import { checkCredentials } from './check-credentials';
import type { AuthDeps, ClientInfo } from './deps';
import { issueSession, type IssuedTokens } from './issue-session';

/**
 * A login either authenticates or (once the MFA issue lands) asks for a second factor; both
 * are expected outcomes, so they are values. The GraphQL union LoginResult mirrors this.
 */
export type LoginOutcome =
  | { kind: 'authenticated'; tokens: IssuedTokens }
  | { kind: 'mfa_required'; mfaToken: string; expiresAt: Date; methods: Array<'TOTP' | 'RECOVERY_CODE'> };

export async function login(
  deps: AuthDeps,
  input: { email: string; password: string },
  client: ClientInfo,
): Promise<LoginOutcome> {
  const user = await checkCredentials(deps, input.email, input.password, client);
  return { kind: 'authenticated', tokens: await issueSession(deps, user, ['pwd'], client) };
}
