import type { JSONWebKeySet } from 'jose';
import type { Algorithm } from './defaults.js';
import type { KeySetOptions } from './key-set.js';
import { mapStandardClaims, type ClaimsMapper, type TokenUse } from './principal.js';

/**
 * An issuer the verifier trusts: which `iss` values, where its keys are, which rules its tokens follow, and how their
 * claims become a principal. Made by a profile (`cognito`, `rfc9068`, `oidc`), or written out.
 */
export interface IssuerConfig {
  /** The exact `iss` value (RFC 8725 §3.8). */
  readonly issuer: string;
  /** Further exact `iss` values signed by the same keys (Cognito's `issuer-cognito-idp` form). */
  readonly alternateIssuers?: readonly string[];
  /** The JWKS location; when neither it nor `jwks` is given, it is read from the issuer's OIDC discovery document. */
  readonly jwksUri?: string;
  /** The keys themselves, for offline use: nothing is ever fetched for this issuer. */
  readonly jwks?: JSONWebKeySet;
  /** Accepted `alg` values, asymmetric only; `['RS256']` by default. */
  readonly algorithms?: readonly Algorithm[];
  /** Required `aud` (any of). */
  readonly audience?: readonly string[];
  /** Required `typ` header, e.g. `at+jwt` for RFC 9068 issuers (RFC 8725 §3.11). */
  readonly typ?: string;
  /** Claims that must be present (`exp` always is). */
  readonly requiredClaims?: readonly string[];
  /** Claims → principal; the `oidc` profile's mapping by default. */
  readonly claims?: ClaimsMapper;
  readonly keySet?: KeySetOptions;
}

/** Where an issuer's keys come from: a JWKS URI, the keys themselves, or (neither) OIDC discovery. */
type KeySource = { readonly jwksUri?: string; readonly jwks?: JSONWebKeySet };

/** What every profile accepts besides its own settings. */
interface ProfileOptions extends KeySource {
  readonly algorithms?: readonly Algorithm[];
  readonly keySet?: KeySetOptions;
}

export interface CognitoOptions extends ProfileOptions {
  /** `{region}_{id}`, e.g. `us-east-1_AbC123`. */
  readonly userPoolId: string;
  /** Defaults to the region in the pool id. */
  readonly region?: string;
  /** Base URL of a Cognito-compatible issuer elsewhere (an emulator, the embedded local issuer) instead of AWS. */
  readonly issuerBaseUrl?: string;
  /**
   * App clients allowed (`client_id` of access tokens, `aud` of ID tokens). Required, as in aws-jwt-verify: `null`
   * says in so many words that every client of the pool is accepted.
   */
  readonly clientIds: readonly string[] | null;
  /** Which token kinds are accepted: access tokens only by default. */
  readonly tokenUse?: readonly TokenUse[];
}

const userPoolIdPattern = /^(?<region>[a-z]{2}(?:-[a-z]+)+-\d+)_[0-9A-Za-z]+$/;

/**
 * A Cognito user pool. Cognito names a pool's issuer in two forms (`cognito-idp.{region}` and the newer
 * `issuer-cognito-idp.{region}`); tokens in either are accepted, and keys come from the pool's own JWKS, never from
 * the token. Cognito signs ID and access tokens with the same keys, so `token_use` is checked, and the app client
 * against `clientIds`; groups come from `cognito:groups`, a person's name from `username` (`cognito:username` in ID
 * tokens).
 */
export function cognito(options: CognitoOptions): IssuerConfig {
  // Checked here, not at the first token: JavaScript callers have no type to stop them.
  if ((options.clientIds as unknown) === undefined)
    throw new TypeError('cognito: clientIds is required (null accepts any client)');
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
  const tokenUses = options.tokenUse ?? ['access'];
  const allowed = options.clientIds;
  const names = { clientId: ['client_id'], groups: 'cognito:groups', username: ['username', 'cognito:username'] };
  return {
    issuer,
    alternateIssuers,
    ...keySource(options, `${issuer}/.well-known/jwks.json`),
    algorithms: options.algorithms ?? ['RS256'],
    ...(options.keySet ? { keySet: options.keySet } : {}),
    claims(claims) {
      const tokenUse = claims['token_use'];
      if (tokenUse !== 'access' && tokenUse !== 'id') return 'wrong_token_use';
      if (!tokenUses.includes(tokenUse)) return 'wrong_token_use';
      const mapped = mapStandardClaims(claims, names);
      if (typeof mapped === 'string') return mapped;
      // Access tokens name their app client in `client_id`; ID tokens in `aud`.
      const { aud } = claims;
      const clientId = tokenUse === 'access' ? mapped.clientId : typeof aud === 'string' ? aud : aud?.[0];
      if (allowed !== null && (clientId === undefined || !allowed.includes(clientId))) return 'client_not_allowed';
      return { ...mapped, clientId, tokenUse };
    },
  };
}

export interface Rfc9068Options extends ProfileOptions {
  readonly issuer: string;
  /** The resource indicators this server answers to: a token must name one in `aud` (RFC 9068 §4). */
  readonly audience: readonly string[];
  /** Claims → principal; by default `sub`, `client_id`, `scope` and `groups` (RFC 9068 §2.2.2, §2.2.3). */
  readonly claims?: ClaimsMapper;
}

/** RFC 9068 §2.2: the claims every JWT access token carries. */
const rfc9068Claims = ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti'] as const;

/**
 * An issuer of RFC 9068 JWT access tokens: `typ` must be `at+jwt` (§2.1, checked as §4 requires, so that an ID token
 * cannot pass for an access token), `aud` must name this resource (§4), and `iss exp aud sub client_id iat jti` must
 * all be present (§2.2).
 */
export function rfc9068(options: Rfc9068Options): IssuerConfig {
  if (options.audience.length === 0) throw new TypeError('rfc9068: an audience is required (RFC 9068 §4)');
  return {
    issuer: options.issuer,
    ...keySource(options),
    ...(options.algorithms ? { algorithms: options.algorithms } : {}),
    ...(options.keySet ? { keySet: options.keySet } : {}),
    audience: options.audience,
    typ: 'at+jwt',
    requiredClaims: rfc9068Claims,
    claims: options.claims ?? ((claims) => mapStandardClaims(claims, rfc9068Names)),
  };
}

// RFC 9068 §2.2.3.1 takes `groups` from SCIM (RFC 7643 §4.1.2); a person's name has no registered claim there.
const rfc9068Names = { clientId: ['client_id'], groups: 'groups', username: [] };

export interface OidcOptions extends ProfileOptions {
  readonly issuer: string;
  /** Required `aud` (any of). */
  readonly audience?: readonly string[];
  /** Required `typ` header. */
  readonly typ?: string;
  readonly requiredClaims?: readonly string[];
  /** Claims → principal, for an issuer whose claims differ from the default mapping. */
  readonly claims?: ClaimsMapper;
}

/** The `oidc` profile's default mapping: `sub`, `client_id` (or `azp`), `scope`, `groups`, `preferred_username`. */
export const oidcClaims: ClaimsMapper = (claims) =>
  mapStandardClaims(claims, { clientId: ['client_id', 'azp'], groups: 'groups', username: ['preferred_username'] });

/** Any other OpenID Connect or OAuth 2 issuer: keys from `jwksUri`, `jwks` or discovery, claims mapped by `claims`. */
export function oidc(options: OidcOptions): IssuerConfig {
  return {
    issuer: options.issuer,
    ...keySource(options),
    ...(options.algorithms ? { algorithms: options.algorithms } : {}),
    ...(options.keySet ? { keySet: options.keySet } : {}),
    ...(options.audience ? { audience: options.audience } : {}),
    ...(options.typ ? { typ: options.typ } : {}),
    ...(options.requiredClaims ? { requiredClaims: options.requiredClaims } : {}),
    claims: options.claims ?? oidcClaims,
  };
}

function keySource(options: KeySource, fallbackUri?: string): KeySource {
  if (options.jwks) return { jwks: options.jwks };
  const jwksUri = options.jwksUri ?? fallbackUri;
  return jwksUri === undefined ? {} : { jwksUri };
}
