import { InvalidMfaCodeError, InvalidTokenError, MfaNotEnabledError } from '../../errors';
import type { AuthDeps, ClientInfo } from '../auth/deps';
import { issueSession, type IssuedTokens } from '../auth/issue-session';
import { hashOpaqueToken } from '../tokens';
import { verifySecondFactor } from './verify-second-factor';

/**
 * The second login step. The challenge's attempt is counted before the code is checked (given
 * back when no code was checked: rate-limited, or a store down); after MFA_ATTEMPTS_PER_CHALLENGE
 * attempts, and once spent or expired, it answers INVALID_TOKEN, even to a right code. A matching
 * code is spent together with the challenge (once) and starts the session with amr pwd+otp or
 * pwd+rcode.
 */
export async function verifyMfa(deps: AuthDeps, mfaToken: string, code: string, client: ClientInfo): Promise<IssuedTokens> {
  const now = deps.clock.now();
  const challenge = mfaToken
    ? await deps.mfa.reserveChallengeAttempt(hashOpaqueToken(mfaToken), now, deps.settings.mfa.attemptsPerChallenge)
    : null;
  if (!challenge) throw new InvalidTokenError();
  const user = await deps.users.findById(challenge.userId);
  if (!user || user.disabled || !user.mfaEnabled) throw new InvalidTokenError();
  // The user's sessions were ended since the password step: refused before a code is spent.
  if (user.sessionEpoch !== challenge.sessionEpoch) throw new InvalidTokenError();
  const spending = { id: challenge.id, now: deps.clock.now() };
  const factor = await verifySecondFactor(deps, user.id, code, { recoveryCodes: true, challenge: spending, rejected: { ip: client.ip } }).catch(
    async (error: unknown) => {
      if (!(error instanceof InvalidMfaCodeError)) await deps.mfa.returnChallengeAttempt(challenge.id).catch(() => {});
      // MFA was turned off after the password step: the challenge is as good as gone.
      throw error instanceof MfaNotEnabledError ? new InvalidTokenError() : error;
    },
  );
  const amr = ['pwd', factor];
  const issued = await issueSession(deps, user, amr, client, challenge.sessionEpoch);
  // null: the user's sessions were ended since the password step (the challenge went with them).
  if (!issued) throw new InvalidTokenError();
  const { tokens, endedSessions, endedSessionIds } = issued;
  deps.audit('login succeeded', { userId: user.id, sessionId: tokens.sessionId, amr, endedSessions, endedSessionIds, ip: client.ip });
  return tokens;
}
