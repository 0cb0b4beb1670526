import { InvalidCredentialsError } from '../../errors';
import { checkCredentials } from './check-credentials';
import type { AuthDeps, ClientInfo } from './deps';
import { issueSession, type IssuedTokens } from './issue-session';
import { startMfaChallenge } from '../mfa/start-challenge';

/**
 * A login either authenticates or, for an account with MFA, asks for the second factor; both
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
  const user = await checkCredentials(deps, { email: input.email }, input.password, client, 'login');
  if (user.mfaEnabled) {
    const { mfaToken, expiresAt } = await startMfaChallenge(deps, user);
    return { kind: 'mfa_required', mfaToken, expiresAt, methods: ['TOTP', 'RECOVERY_CODE'] };
  }
  const issued = await issueSession(deps, user, ['pwd'], client, user.sessionEpoch);
  // The account changed while its password was checked (password change, logoutAll, disabled):
  // the check no longer stands. Not counted: the password was right when checked.
  if (!issued) throw new InvalidCredentialsError();
  const { tokens, endedSessions, endedSessionIds } = issued;
  deps.audit('login succeeded', { userId: user.id, sessionId: tokens.sessionId, amr: ['pwd'], endedSessions, endedSessionIds, ip: client.ip });
  return { kind: 'authenticated', tokens };
}
