export { AuthRefusal, isAuthRefusal, refusalResponse } from './errors.js';
export type { BearerErrorCode, RefusalReason, RefusalResponse } from './errors.js';
export { createKeySet } from './key-set.js';
export type { KeySet, KeySetEvent, KeySetOptions, KeySetStats, KeySetStatus } from './key-set.js';
export { createVerifier, supportedAlgorithms } from './verifier.js';
export type {
  Algorithm,
  CognitoRules,
  IssuerConfig,
  IssuerState,
  Principal,
  TokenUse,
  Verifier,
  VerifierOptions,
  VerifierStats,
} from './verifier.js';
export {
  authenticatedAccess,
  createRoutePolicy,
  forPeopleInGroups,
  missingGroups,
  missingScopes,
  publicAccess,
  requireAnyScope,
  requireScopes,
} from './policy.js';
export type { Access, PolicyMethod, PolicyRule, RoutePolicy } from './policy.js';
export { createAuthCounters, createBearerAuth } from './middleware.js';
export type { AuthCounters, AuthState, BearerAuthOptions, RefusalAnswer } from './middleware.js';
export { cognitoIssuer, userPoolIdPattern } from './cognito.js';
export type { CognitoIssuerOptions } from './cognito.js';
