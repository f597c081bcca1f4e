// The public surface of @product-service/bearer: the authenticator, the access rules, the issuer profiles, the
// protected resource metadata (RFC 9728), and their types. Everything else is internal; its defaults are at `@product-service/bearer/defaults`.
export { createAuthenticator } from './authenticator.js';
export type { Authenticator, AuthenticatorOptions, AuthRequest, Outcome, Refusal } from './authenticator.js';
export {
  allOf,
  authenticatedAccess,
  claimCheck,
  claimEquals,
  claimIncludes,
  createRoutePolicy,
  optionalAccess,
  publicAccess,
  requireAnyScope,
  requireGroups,
  requireScopes,
  stepUp,
} from './policy.js';
export type {
  Access,
  ClaimRule,
  GroupAlternatives,
  GroupRule,
  JsonPrimitive,
  PolicyMethod,
  PolicyRule,
  RoutePolicy,
  StepUp,
} from './policy.js';
export {
  protectedResourceMetadata,
  protectedResourceMetadataPath,
  protectedResourceMetadataUrl,
  protectedResourceWellKnown,
} from './resource-metadata.js';
export type { ProtectedResourceMetadata, ProtectedResourceMetadataOptions } from './resource-metadata.js';
export { cognito, oidc, rfc9068 } from './issuers.js';
export type { CognitoOptions, IssuerConfig, OidcOptions, Rfc9068Options } from './issuers.js';
export { standardClaims } from './principal.js';
export type { ClaimNames, ClaimsMapper, Principal, PrincipalClaims, TokenUse } from './principal.js';
export type { BearerErrorCode, RefusalReason } from './refusals.js';
export type { KeySetEvent, KeySetOptions, KeySetStats, KeySetStatus, KeySetView } from './key-set.js';
export type { Algorithm } from './defaults.js';
export type { DpopOptions } from './dpop.js';
export type { Fetch } from './fetch-json.js';
export type { IssuerState, VerifierStats } from './verifier.js';
