import type { IssuerConfig, TokenUse } from './verifier.js';

/** A Cognito user pool id: `{region}_{id}`, e.g. `us-east-1_AbC123`. */
export const userPoolIdPattern = /^(?<region>[a-z]{2}(?:-[a-z]+)+-\d+)_[0-9A-Za-z]+$/;

export interface CognitoIssuerOptions {
  readonly userPoolId: string;
  /** Defaults to the region in the pool id. */
  readonly region?: string;
  /** App clients allowed (`client_id` of access tokens, `aud` of ID tokens); `undefined` allows every client. */
  readonly clientIds?: readonly string[];
  readonly tokenUse?: readonly TokenUse[];
  /** Base URL override for the issuer, e.g. the embedded local issuer. */
  readonly issuerBaseUrl?: string;
}

/**
 * The issuer and key set of a Cognito user pool. Cognito names a pool's issuer in two forms
 * (`cognito-idp.{region}` and the newer `issuer-cognito-idp.{region}`); tokens in either are accepted, and keys come
 * from the pool's own JWKS, never from the token.
 */
export function cognitoIssuer(options: CognitoIssuerOptions): IssuerConfig {
  let issuer: string;
  let alternateIssuers: string[] = [];
  if (options.issuerBaseUrl) {
    issuer = `${options.issuerBaseUrl.replace(/\/$/, '')}/${options.userPoolId}`;
  } else {
    const region = options.region ?? userPoolIdPattern.exec(options.userPoolId)?.groups?.['region'];
    if (!region) throw new TypeError(`cannot tell the region of user pool ${options.userPoolId}`);
    issuer = `https://cognito-idp.${region}.amazonaws.com/${options.userPoolId}`;
    alternateIssuers = [`https://issuer-cognito-idp.${region}.amazonaws.com/${options.userPoolId}`];
  }
  return {
    issuer,
    alternateIssuers,
    jwksUri: `${issuer}/.well-known/jwks.json`,
    algorithms: ['RS256'],
    cognito: { tokenUse: options.tokenUse ?? ['access'], clientIds: options.clientIds },
  };
}
