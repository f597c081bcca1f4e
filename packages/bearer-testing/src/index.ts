// The public surface of @product-service/bearer-testing: a fake issuer, its keys and claims, DPoP keys that mint
// proofs, and a fake clock.
export { startTestIssuer } from './issuer.js';
export type { SignOptions, TestIssuer, TestIssuerOptions } from './issuer.js';
export type { IssuerMode, ModeOptions } from './issuer-server.js';
export { createTestKey } from './keys.js';
export type { TestKey } from './keys.js';
export { cognitoAccessClaims, cognitoIdClaims, personSubject, rfc9068Claims } from './claims.js';
export type { ClaimOverrides } from './claims.js';
export { createDpopKey } from './dpop.js';
export type { DpopKey, ProofOptions } from './dpop.js';
export { createTestClock } from './clock.js';
export type { TestClock } from './clock.js';
