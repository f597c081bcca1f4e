import { randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import Provider, { type Configuration } from 'oidc-provider';
import { createMemoryAdapter } from 'oidc-provider/lib/adapters/memory_adapter.js';
import type { Accounts } from './accounts.js';
import type { Clients } from './clients.js';
import {
  accessTokenClaims,
  cognitoAccessToken,
  cognitoClaims,
  findAccount,
  keepAccessTokenValues,
  type AccessTokenValues,
} from './cognito-tokens.js';
import { loginPath } from './login.js';

// JWT access tokens need a resource server in oidc-provider; clients never name it, so every token is for this one.
const resource = 'urn:product-service';

export interface ProviderOptions {
  readonly issuer: string;
  /** The private signing key, as a JWK with its `kid`. */
  readonly signingKey: JWK;
  /** Where the key set is served: under the pool's path, as Cognito's. */
  readonly jwksPath: string;
  readonly clients: Clients;
  readonly accounts: Accounts;
  /** Every scope the resource server defines. */
  readonly scopes: readonly string[];
  readonly accessTokenTtlSeconds: number;
  /** Browser origins allowed to call the token endpoint (the docs page). */
  readonly corsOrigins: readonly string[];
}

/** How long each thing lives, in seconds; the access token's as the options say. */
function lifetimes(accessTokenTtlSeconds: number): NonNullable<Configuration['ttl']> {
  return {
    ClientCredentials: accessTokenTtlSeconds,
    AccessToken: accessTokenTtlSeconds,
    IdToken: 3600,
    AuthorizationCode: 300,
    RefreshToken: 30 * 24 * 3600,
    Interaction: 3600,
    Session: 24 * 3600,
    Grant: 30 * 24 * 3600,
  };
}

/** Cognito's endpoint paths, on oidc-provider's endpoints. */
function cognitoRoutes(jwksPath: string): NonNullable<Configuration['routes']> {
  return {
    authorization: '/oauth2/authorize',
    token: '/oauth2/token',
    userinfo: '/oauth2/userInfo',
    end_session: '/logout',
    jwks: jwksPath,
  };
}

function features(options: ProviderOptions): NonNullable<Configuration['features']> {
  return {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // RFC 9449: a token request with a DPoP proof gets a token bound to its key (`cnf.jkt`), as Auth0 or Keycloak
    // issue them; without a proof, a bearer token as before.
    dPoP: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, _indicator, client) => ({
        scope: options.clients.scopesOf(client.clientId).join(' '),
        accessTokenFormat: 'jwt',
        accessTokenTTL: options.accessTokenTtlSeconds,
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  };
}

/** oidc-provider, configured as a Cognito user pool: its clients, people, endpoints and token shapes. */
export function createProvider(options: ProviderOptions): Provider {
  const accessTokenValues: AccessTokenValues = new WeakMap();
  const corsOrigins = new Set(options.corsOrigins);
  const provider = new Provider(options.issuer, {
    clients: [...options.clients.metadata],
    scopes: [...options.scopes],
    jwks: { keys: [options.signingKey] },
    // Sessions, codes and refresh tokens live in memory: the issuer starts clean every run.
    adapter: createMemoryAdapter(),
    ttl: lifetimes(options.accessTokenTtlSeconds),
    pkce: { required: () => true },
    // The authorization code grant only: no implicit or hybrid flow, which leak tokens into URLs (RFC 9700 §2.1.2).
    responseTypes: ['code'],
    // Cognito always issues a refresh token with the authorization code grant.
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    claims: cognitoClaims,
    conformIdTokenClaims: false,
    findAccount: findAccount(options.accounts, accessTokenValues),
    interactions: { url: (_ctx, interaction) => loginPath(interaction.uid) },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    routes: cognitoRoutes(options.jwksPath),
    // 'none' for the public app client of people (PKCE instead of a secret), as a Cognito SPA client.
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    clientBasedCORS: (_ctx, requestOrigin) => corsOrigins.has(requestOrigin),
    features: features(options),
    extraTokenClaims: accessTokenClaims(options.accounts),
    formats: { customizers: { jwt: cognitoAccessToken(options.clients.scopesOf) } },
  });
  provider.proxy = false;
  keepAccessTokenValues(provider, accessTokenValues);
  return provider;
}
