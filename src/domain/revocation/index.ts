export type { RevocationFeed } from './ports';
export { announceEnded, revokingSessionStore } from './revoking-session-store';
export { LocalRevocations } from './local-revocations';
export { catchUpRevocations } from './catch-up-revocations';
export { revocationsInForceSince } from './token-lifetimes';
