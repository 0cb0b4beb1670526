/**
 * The verifier kit: what a subgraph needs to trust the gateway's tokens. `npm run build:kit`
 * makes it a package of its own (graphql-auth-gateway-subgraph); in this repository it is also
 * `graphql-auth-gateway/subgraph`.
 */
export { createVerifier, type VerifierOptions, type VerifyResult, type VerifyFailure, type SubgraphViewer } from './verifier.js';
export { createRevocationFeed, type RevocationFeedOptions, type RevocationFeedLogger } from './revocation-feed.js';
export type { KitLogger } from './logger.js';
export type { Clock } from './clock.js';
export { applyAuthDirectives, decide, requirementOf, type AuthDirectiveOptions, type Requirement, type SecurityDirectiveNames } from './auth-directives.js';
export { createAuthChecker } from './auth-checker.js';
export { serviceUnavailable } from './errors.js';
