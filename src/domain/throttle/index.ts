export { Throttle, ACCOUNT_BACKOFF_MAX_SECONDS, ACCOUNT_BACKOFF_START_SECONDS, type ThrottleLimits } from './throttle';
export { clientAddress, clientKey, emailKey, isInternalAddress } from './client-key';
export type { CounterStore, LimitRule, RuleName, Consumed } from './ports';
