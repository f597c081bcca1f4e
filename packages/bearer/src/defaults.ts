/**
 * Every default of the package, in one place (as oidc-provider's lib/helpers/defaults.js): the verifier, the key set
 * and the authenticator read them from here, and a service that makes them configurable imports them
 * (`@product-service/bearer/defaults`) instead of writing the numbers again.
 */
export const defaults = Object.freeze({
  /** Seconds of clock skew allowed on `exp`, `nbf` and `iat`: enough for hosts kept in step by NTP. */
  clockToleranceSec: 5,
  /** Tokens longer than this are refused before any decoding; a Cognito access token with many groups is ~2 KiB. */
  maxTokenBytes: 8 * 1024,
  /** Verified tokens remembered (exact token string → principal); about 2 MiB at 10,000. */
  tokenCacheSize: 10_000,
  /** What Cognito signs with, and what an issuer accepts unless configured otherwise. */
  algorithms: Object.freeze(['RS256'] as const),
  /** The protection space named in every challenge (RFC 6750 §3). */
  realm: 'api',
  dpop: Object.freeze({
    /** A proof older than this (by its `iat`) is refused, and its `jti` remembered this long (RFC 9449 §11.1); as Auth0's `iatOffset`. */
    proofMaxAgeSec: 300,
    /** Proofs remembered against replay; at 100,000, a replay is caught for sure up to ~330 proofs/s in the 300 s window (~15 MiB). */
    replayCacheSize: 100_000,
  }),
  keySet: Object.freeze({
    /** After this long a fetched set is no longer trusted as current, so a key the issuer removed stops working. */
    maxAgeMs: 10 * 60_000,
    /** After a fetch, an unknown `kid` is refused without fetching again for this long (flood protection). */
    cooldownMs: 30_000,
    /** When a refresh fails, the last good set is still used for this long past its maximum age. */
    staleIfErrorMs: 60 * 60_000,
    /** Discovery and the fetch together, headers and body. */
    timeoutMs: 5_000,
    /** A JWKS (or discovery document) larger than this is refused without being read to the end. */
    maxBytes: 256 * 1024,
    /** After a failed fetch the next attempt waits this long, then twice as long each time, up to the cooldown. */
    firstBackoffMs: 1_000,
  }),
});

/** Asymmetric JWS algorithms only: a verifier that holds public keys must never accept HMAC or `none` (RFC 8725 §2.1, §3.1). */
export const supportedAlgorithms = Object.freeze([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const);

export type Algorithm = (typeof supportedAlgorithms)[number];
