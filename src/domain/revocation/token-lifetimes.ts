import { CLOCK_SKEW_SECONDS, MAX_ACCESS_TOKEN_TTL } from '../tokens';

/**
 * How long an ended session's access tokens may still pass a verifier: the longest
 * ACCESS_TOKEN_TTL the setting allows, not this instance's own, plus the clock skew verifiers
 * allow. Instances with different TTLs (a rolling deploy that changes it) and subgraphs, which
 * accept tokens as old as that, thus keep every revocation as long as any token of the session
 * may pass.
 */
const TOKENS_OUTLIVE_SESSION_MS = (MAX_ACCESS_TOKEN_TTL + CLOCK_SKEW_SECONDS) * 1000;

/** When the last access token of a session that ended at `endedAt` has expired. */
export const tokensLiveUntil = (endedAt: Date) => new Date(endedAt.getTime() + TOKENS_OUTLIVE_SESSION_MS);

/**
 * The earliest end of a session whose revocation is still in force at `now`: one that ended
 * before has no access token that passes any more, so there is nothing to end, count or announce.
 */
export const revocationsInForceSince = (now: Date) => new Date(now.getTime() - TOKENS_OUTLIVE_SESSION_MS);
