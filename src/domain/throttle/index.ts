export { Throttle, type ThrottleLimits } from './throttle';
export { clientAddress, clientKey, emailKey, isInternalAddress } from './client-key';
export type { CounterStore, LimitRule, RuleName, Consumed } from './ports';
