/** `graphql-auth-gateway/subgraph`: what a subgraph needs to trust the gateway's tokens. */
export { createVerifier, type VerifierOptions, type VerifyResult, type VerifyFailure, type SubgraphViewer } from './verifier';
export { createRevocationFeed, type RevocationFeedOptions } from './revocation-feed';
export { applyAuthDirectives, decide, requirementOf, type AuthDirectiveOptions, type Requirement } from './auth-directives';
export { createAuthChecker } from './auth-checker';
