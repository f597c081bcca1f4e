import { cognito, type CognitoOptions, type IssuerConfig } from '../../src/issuers.js';

/** A Cognito-shaped issuer at `baseUrl` (a test issuer from @product-service/bearer-testing): every app client allowed unless `rules` say. */
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
