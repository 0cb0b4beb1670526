/**
 * The namespace of every Redis key of the gateway (RATE_LIMIT_PREFIX) when none is set: the
 * gateway's counters and revoked sessions, and what the subgraph kit's revocation feed reads.
 */
export const DEFAULT_KEY_PREFIX = 'gw:rl';
