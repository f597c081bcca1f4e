import { cognito, type CognitoOptions, type IssuerConfig } from '../../src/issuers.js';

// The package's tests share the service's test JWKS server and clock (test/support/), the seed of a test kit.
export { cognitoClaims, makeKey, startJwksServer } from '../../../../test/support/jwks-server.js';
export type { JwksServer, TestKey } from '../../../../test/support/jwks-server.js';
export { createTestClock } from '../../../../test/support/clock.js';
export type { TestClock } from '../../../../test/support/clock.js';

/** A Cognito-shaped issuer at `baseUrl` (the test JWKS server): every app client allowed unless `rules` say. */
export function cognitoAt(
  baseUrl: string,
  userPoolId: string,
  rules: Partial<Pick<CognitoOptions, 'clientIds' | 'tokenUse'>> = {},
): IssuerConfig {
  return cognito({ userPoolId, issuerBaseUrl: baseUrl, clientIds: null, ...rules });
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
