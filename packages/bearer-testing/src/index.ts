// The public surface of @product-service/bearer-testing: a fake issuer, its keys and claims, and a fake clock.
export { startTestIssuer } from './issuer.js';
export type { SignOptions, TestIssuer, TestIssuerOptions } from './issuer.js';
export type { IssuerMode, ModeOptions } from './issuer-server.js';
export { createTestKey } from './keys.js';
export type { TestKey } from './keys.js';
export { cognitoAccessClaims, cognitoIdClaims, personSubject, rfc9068Claims } from './claims.js';
export type { ClaimOverrides } from './claims.js';
export { createTestClock } from './clock.js';
export type { TestClock } from './clock.js';
