import { errors as joseErrors, jwtVerify } from 'jose';
import { LRUCache } from 'lru-cache';
import type { CryptoKey, JWTPayload, JWTVerifyOptions } from 'jose';
import { AuthRefusal, type RefusalReason } from './errors.js';
import { createKeySet, type KeySet, type KeySetEvent, type KeySetOptions } from './key-set.js';
import { fetchJson } from './fetch-json.js';
import {
  compileClaimRules,
  hasFastScheme,
  signatureHolds,
  signatureKeyFor,
  type ClaimCheck,
  type ClaimRules,
  type SignatureKey,
} from './signature.js';
import { decodeJsonPart } from './token-parts.js';

/** Asymmetric JWS algorithms only: a verifier that holds public keys must never accept HMAC or `none` (RFC 8725 §2.1, §3.1). */
export const supportedAlgorithms = [
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
] as const;
export type Algorithm = (typeof supportedAlgorithms)[number];

export type TokenUse = 'access' | 'id';

export interface CognitoRules {
  /** Which Cognito token kinds are accepted; access tokens only, unless an issuer says otherwise. */
  readonly tokenUse: readonly TokenUse[];
  /** App clients allowed: matched against `client_id` (access tokens) or `aud` (ID tokens). `undefined`: any. */
  readonly clientIds: readonly string[] | undefined;
}

export interface IssuerConfig {
  /** The exact `iss` value (RFC 8725 §3.8). */
  readonly issuer: string;
  /** Further exact `iss` values signed by the same keys (Cognito's `issuer-cognito-idp` form). */
  readonly alternateIssuers?: readonly string[];
  /** The JWKS location; when absent it is read from the issuer's OIDC discovery document. */
  readonly jwksUri?: string;
  readonly algorithms?: readonly Algorithm[];
  /** Required `aud` (any of) for OIDC issuers; Cognito access tokens carry none. */
  readonly audience?: readonly string[];
  /** Required `typ` header, e.g. `at+jwt` for RFC 9068 issuers (RFC 8725 §3.11). */
  readonly typ?: string;
  readonly cognito?: CognitoRules;
  readonly keySet?: Omit<KeySetOptions, 'jwksUri' | 'onEvent'>;
}

export interface Principal {
  readonly subject: string;
  readonly clientId: string | undefined;
  readonly scopes: readonly string[];
  readonly groups: readonly string[];
  /** A person's username (Cognito's `username`, or `cognito:username` in an ID token); none for a machine client. */
  readonly username: string | undefined;
  readonly issuer: string;
  readonly tokenUse: TokenUse | undefined;
  readonly expiresAt: number;
  readonly claims: Readonly<JWTPayload>;
}

export interface VerifierOptions {
  readonly issuers: readonly IssuerConfig[];
  /** Seconds of clock skew allowed on `exp`, `nbf` and `iat`. */
  readonly clockToleranceSec?: number;
  /** When set, a token whose `iat` is older than this many seconds is refused. */
  readonly maxTokenAgeSec?: number;
  /** Tokens longer than this are refused before any parsing. */
  readonly maxTokenBytes?: number;
  /** Called after every other check passed; `true` refuses the token as revoked (a deny-list by `jti` or `sub`). */
  readonly isRevoked?: (principal: Principal) => Promise<boolean>;
  readonly onKeySetEvent?: (issuer: string, event: KeySetEvent) => void;
  /**
   * Verified tokens are remembered, keyed by the exact token string, until the earlier of their expiry and a change
   * of their issuer's key set. `false` turns the cache off.
   */
  readonly tokenCache?: { readonly maxEntries: number } | false;
  readonly now?: () => number;
  /**
   * Who checks the signature: node:crypto's one-shot `crypto.verify` on the key jose selected (the default, about
   * half the CPU), or jose's WebCrypto path. Both give the same verdict (test/signature.test.ts); every other check
   * is the same either way.
   */
  readonly signatureCheck?: 'node' | 'jose';
}

export interface VerifierStats {
  tokenCacheHits: number;
  tokenCacheMisses: number;
  /** Signatures checked by node:crypto, and by jose (configured so, or a token node:crypto leaves to jose). */
  nodeSignatureChecks: number;
  joseSignatureChecks: number;
}

export interface IssuerState {
  readonly issuer: string;
  readonly keySet: KeySet;
}

export interface Verifier {
  verify(token: string): Promise<Principal>;
  /**
   * The answer `verify` would give, when it needs no I/O and no async step: a token verified before (unexpired, its
   * key set usable and unchanged), or a new one whose key jose already selected, checked at once. A refusal is
   * returned, not thrown. `undefined` when only `verify` can answer: a kid not selected yet in this key set, a token
   * for jose's path, or a revocation hook, which must see every request. Lets a request pass without a promise.
   */
  verifyNow(token: string): Principal | AuthRefusal | undefined;
  /** Fill every key set, so that the first request does not pay for the fetch. Rejects if one cannot be had. */
  warmUp(): Promise<void>;
  /** True when every issuer has a usable key set. */
  ready(): boolean;
  readonly issuers: readonly IssuerState[];
  readonly stats: Readonly<VerifierStats>;
}

interface CachedToken {
  readonly principal: Principal;
  readonly entry: Trusted;
  /** The key set generation the signature was checked against. */
  readonly generation: number;
  /** Epoch ms after which the token must be verified again (its expiry, or the end of its maximum age). */
  readonly validUntil: number;
}

interface Trusted {
  readonly config: IssuerConfig;
  readonly keySet: KeySet;
  /** jose's options for this issuer; the claim rules among them are also what node:crypto's path checks. */
  readonly options: JWTVerifyOptions & ClaimRules;
  readonly checkClaims: ClaimCheck;
  /**
   * The node:crypto keys jose selected, by `alg` then `kid` (the only header members its selection reads), for the
   * key set generation they came from: a new token with a known kid skips the async selection.
   */
  readonly signatureKeys: { generation: number; readonly byAlg: Map<string, Map<string, SignatureKey>> };
  /** The issuer's allowed algorithms that node:crypto checks here. */
  readonly fastAlgorithms: ReadonlySet<string>;
}

/** A token taken apart, with every check that needs no key passed. */
interface Parsed {
  readonly token: string;
  readonly headerPart: string;
  readonly payloadPart: string;
  readonly signaturePart: string;
  readonly header: Record<string, unknown>;
  readonly claims: JWTPayload;
  readonly entry: Trusted;
  readonly kid: string;
  /** The token's `alg` when node:crypto checks its signature here; `undefined`: jose verifies the token. */
  readonly fastAlg: string | undefined;
}

const base64urlToken = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function createVerifier(options: VerifierOptions): Verifier {
  if (options.issuers.length === 0) throw new TypeError('at least one issuer must be configured');
  const clockTolerance = options.clockToleranceSec ?? 5;
  const maxTokenBytes = options.maxTokenBytes ?? 8 * 1024;
  const now = options.now ?? Date.now;
  const signatureCheck = options.signatureCheck ?? 'node';

  const byIssuer = new Map<string, Trusted>();
  const trusted = options.issuers.map((config) => {
    const algorithms = config.algorithms ?? ['RS256'];
    for (const alg of algorithms) {
      if (!(supportedAlgorithms as readonly string[]).includes(alg)) {
        throw new TypeError(`algorithm ${alg} is not an asymmetric JWS algorithm`);
      }
    }
    const accepted = [config.issuer, ...(config.alternateIssuers ?? [])];
    const keySet = createKeySet({
      ...config.keySet,
      now,
      jwksUri: config.jwksUri ?? ((signal) => discoverJwksUri(config.issuer, signal)),
      onEvent: (event) => options.onKeySetEvent?.(config.issuer, event),
    });
    const claimRules = {
      issuer: accepted,
      algorithms: [...algorithms],
      requiredClaims: ['exp'],
      clockTolerance,
      ...(config.audience ? { audience: [...config.audience] } : {}),
      ...(config.typ ? { typ: config.typ } : {}),
      ...(options.maxTokenAgeSec === undefined ? {} : { maxTokenAge: options.maxTokenAgeSec }),
    };
    const entry: Trusted = {
      config,
      keySet,
      signatureKeys: { generation: -1, byAlg: new Map() },
      fastAlgorithms: new Set(algorithms.filter((alg) => hasFastScheme(alg))),
      options: claimRules,
      checkClaims: compileClaimRules(claimRules),
    };
    for (const iss of accepted) {
      if (byIssuer.has(iss)) throw new TypeError(`issuer ${iss} is configured twice`);
      byIssuer.set(iss, entry);
    }
    return entry;
  });

  const cacheSize = options.tokenCache === false ? 0 : (options.tokenCache?.maxEntries ?? 10_000);
  const cache = cacheSize > 0 ? new LRUCache<string, CachedToken>({ max: cacheSize }) : undefined;
  const stats: VerifierStats = {
    tokenCacheHits: 0,
    tokenCacheMisses: 0,
    nodeSignatureChecks: 0,
    joseSignatureChecks: 0,
  };

  async function verify(token: string): Promise<Principal> {
    // Checked before any decoding, so that a huge token costs us nothing but its length.
    if (token.length > maxTokenBytes) throw new AuthRefusal('token_too_large');
    let principal = remembered(token);
    if (!principal) {
      if (cache) stats.tokenCacheMisses += 1;
      principal = await verifyAndRemember(token);
    }
    if (options.isRevoked && (await options.isRevoked(principal))) throw new AuthRefusal('revoked');
    return principal;
  }

  function verifyNow(token: string): Principal | AuthRefusal | undefined {
    if (options.isRevoked) return undefined;
    if (token.length > maxTokenBytes) return new AuthRefusal('token_too_large');
    const principal = remembered(token);
    if (principal) return principal;
    // jose verifies every new token then, asynchronously: nothing more can be answered here.
    if (signatureCheck === 'jose') return undefined;
    let answer: Principal | AuthRefusal;
    try {
      const parsed = parse(token);
      const key = knownSignatureKey(parsed);
      // Left to verify(), which counts the miss then.
      if (!key) return undefined;
      answer = verifyWithKey(parsed, key);
    } catch (error) {
      if (!(error instanceof AuthRefusal)) throw error;
      answer = error;
    }
    if (cache) stats.tokenCacheMisses += 1;
    return answer;
  }

  /**
   * Unexpired, checked against the key set its issuer holds now, and that set still trusted: past stale-if-error the
   * token is verified anew, and answered as any new token would be (503 while no keys can be had). A refresh that
   * installs a different set changes the generation, so a key the issuer removed stops admitting its tokens.
   */
  function stillValid(cached: CachedToken): boolean {
    const { keySet } = cached.entry;
    return now() < cached.validUntil && keySet.generation() === cached.generation && keySet.usable();
  }

  /** The exact token string is the key, so no two tokens can ever share an entry (cf. GHSA-rp9m-7r4c-75qg). */
  function remembered(token: string): Principal | undefined {
    const cached = cache?.get(token);
    if (!cached) return undefined;
    if (!stillValid(cached)) {
      cache?.delete(token);
      return undefined;
    }
    stats.tokenCacheHits += 1;
    return cached.principal;
  }

  /** Every check that needs no key, in the order that costs an attacker's token the least. */
  function parse(token: string): Parsed {
    // Three base64url parts, checked once here: the decoders below rely on it.
    if (!base64urlToken.test(token)) throw new AuthRefusal('malformed_token');
    const [headerPart = '', payloadPart = '', signaturePart = ''] = token.split('.');
    // No base64 text is one character past a multiple of four: jose refuses such a part, and a lenient decoder
    // (Buffer's) would drop the extra character, accepting a token jose refuses.
    if (headerPart.length % 4 === 1 || payloadPart.length % 4 === 1 || signaturePart.length % 4 === 1) {
      throw new AuthRefusal('malformed_token');
    }
    const header = decodeJsonPart(headerPart);
    const claims = decodeJsonPart(payloadPart);
    // We implement no JWS extensions, so any `crit` entry is one we do not understand (RFC 7515 §4.1.11).
    if (header['crit'] !== undefined) throw new AuthRefusal('malformed_token');
    // The issuer picks which configured key set to use; a token can never point us at a URL of its own, so the
    // `jku`, `x5u`, `x5c` and `jwk` headers are never consulted (RFC 8725 §3.10, CVE-2018-0114).
    const iss = claims['iss'];
    const entry = typeof iss === 'string' ? byIssuer.get(iss) : undefined;
    if (!entry) throw new AuthRefusal('wrong_issuer');
    const kid = header['kid'];
    if (typeof kid !== 'string' || entry.keySet.refusesWithoutFetch(kid)) throw new AuthRefusal('unknown_kid');
    // node:crypto checks the signature when it can do exactly what jose would (an allowed alg it has a scheme for,
    // the key jose selects, fit for that alg as it is); otherwise jose verifies the token and says why it refuses.
    const alg = header['alg'];
    const fastAlg =
      signatureCheck === 'node' && typeof alg === 'string' && entry.fastAlgorithms.has(alg) ? alg : undefined;
    return { token, headerPart, payloadPart, signaturePart, header, claims, entry, kid, fastAlg };
  }

  async function verifyAndRemember(token: string): Promise<Principal> {
    const parsed = parse(token);
    const key = parsed.fastAlg === undefined ? undefined : (knownSignatureKey(parsed) ?? (await selectKey(parsed)));
    if (key) return verifyWithKey(parsed, key);
    stats.joseSignatureChecks += 1;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, parsed.entry.keySet.getKey, {
        ...parsed.entry.options,
        currentDate: new Date(now()),
      }));
    } catch (error) {
      throw toRefusal(error);
    }
    return accept(parsed, payload);
  }

  /** node:crypto's signature check and jose's claim checks, at once. */
  function verifyWithKey(parsed: Parsed, key: SignatureKey): Principal {
    stats.nodeSignatureChecks += 1;
    const { token, headerPart, payloadPart, signaturePart, entry } = parsed;
    if (!signatureHolds(key, token.slice(0, headerPart.length + 1 + payloadPart.length), signaturePart)) {
      throw new AuthRefusal('bad_signature');
    }
    try {
      entry.checkClaims(parsed.header, parsed.claims, now());
    } catch (error) {
      throw toRefusal(error);
    }
    return accept(parsed, parsed.claims);
  }

  /** The checks of our own after jose's, the principal, and the cache entry. */
  function accept(parsed: Parsed, payload: JWTPayload): Principal {
    const { entry } = parsed;
    const generation = entry.keySet.generation();
    const nowSec = Math.floor(now() / 1000);
    if (typeof payload.iat === 'number' && payload.iat > nowSec + clockTolerance) {
      throw new AuthRefusal('issued_in_future');
    }
    const principal = toPrincipal(payload, entry.config);
    if (cache && typeof payload.exp === 'number') {
      const maxAgeEnd =
        options.maxTokenAgeSec !== undefined && typeof payload.iat === 'number'
          ? payload.iat + options.maxTokenAgeSec
          : Number.POSITIVE_INFINITY;
      cache.set(parsed.token, {
        principal,
        entry,
        generation,
        validUntil: Math.min(payload.exp, maxAgeEnd) * 1000,
      });
    }
    return principal;
  }

  /** A key selected before for this alg and kid, while its key set is unchanged and usable (which also revalidates). */
  function knownSignatureKey({ entry, fastAlg, kid }: Parsed): SignatureKey | undefined {
    const { signatureKeys, keySet } = entry;
    if (fastAlg === undefined || signatureKeys.generation !== keySet.generation() || !keySet.usable()) return undefined;
    return signatureKeys.byAlg.get(fastAlg)?.get(kid);
  }

  /** jose's selection (createLocalJWKSet: kid, kty for alg, use, key_ops), then the node:crypto form of its key. */
  async function selectKey(parsed: Parsed): Promise<SignatureKey | undefined> {
    const { entry, fastAlg, kid, header } = parsed;
    if (fastAlg === undefined) return undefined;
    let selected: CryptoKey;
    try {
      selected = await entry.keySet.getKey(header, {
        protected: parsed.headerPart,
        payload: parsed.payloadPart,
        signature: parsed.signaturePart,
      });
    } catch (error) {
      throw toRefusal(error);
    }
    const key = signatureKeyFor(fastAlg, selected);
    if (!key) return undefined;
    const { signatureKeys } = entry;
    const generation = entry.keySet.generation();
    if (signatureKeys.generation !== generation) {
      signatureKeys.byAlg.clear();
      signatureKeys.generation = generation;
    }
    let byKid = signatureKeys.byAlg.get(fastAlg);
    if (!byKid) signatureKeys.byAlg.set(fastAlg, (byKid = new Map<string, SignatureKey>()));
    byKid.set(kid, key);
    return key;
  }

  return {
    verify,
    verifyNow,
    async warmUp() {
      await Promise.all(trusted.map((entry) => entry.keySet.refresh()));
    },
    ready: () => trusted.every((entry) => entry.keySet.status().ready),
    issuers: trusted.map((entry) => ({ issuer: entry.config.issuer, keySet: entry.keySet })),
    stats,
  };
}

function toPrincipal(payload: JWTPayload, config: IssuerConfig): Principal {
  const tokenUse = payload['token_use'];
  const clientIdClaim = payload['client_id'];
  const scope = payload['scope'];
  const groups = payload['cognito:groups'];
  const username = payload['username'] ?? payload['cognito:username'];
  if (typeof payload.sub !== 'string' || payload.sub.length === 0) throw new AuthRefusal('claims_invalid');
  if (scope !== undefined && typeof scope !== 'string') throw new AuthRefusal('claims_invalid');
  if (clientIdClaim !== undefined && typeof clientIdClaim !== 'string') throw new AuthRefusal('claims_invalid');
  // A username decides whether a person's rules apply, so a malformed one is refused rather than ignored.
  if (username !== undefined && typeof username !== 'string') throw new AuthRefusal('claims_invalid');
  if (groups !== undefined && !(Array.isArray(groups) && groups.every((g) => typeof g === 'string'))) {
    throw new AuthRefusal('claims_invalid');
  }

  let use: TokenUse | undefined;
  let clientId = clientIdClaim;
  if (config.cognito) {
    // Cognito signs ID and access tokens with the same keys; only `token_use` tells them apart.
    if (tokenUse !== 'access' && tokenUse !== 'id') throw new AuthRefusal('wrong_token_use');
    if (!config.cognito.tokenUse.includes(tokenUse)) throw new AuthRefusal('wrong_token_use');
    use = tokenUse;
    // Access tokens name their app client in `client_id`; ID tokens in `aud`.
    clientId = use === 'access' ? clientIdClaim : typeof payload.aud === 'string' ? payload.aud : payload.aud?.[0];
    const allowed = config.cognito.clientIds;
    if (allowed !== undefined && (clientId === undefined || !allowed.includes(clientId))) {
      throw new AuthRefusal('client_not_allowed');
    }
  }
  return {
    subject: payload.sub,
    clientId,
    scopes: typeof scope === 'string' ? scope.split(' ').filter((s) => s.length > 0) : [],
    groups: groups ?? [],
    username: typeof username === 'string' ? username : undefined,
    issuer: config.issuer,
    tokenUse: use,
    expiresAt: payload.exp ?? 0,
    claims: payload,
  };
}

function toRefusal(error: unknown): AuthRefusal {
  if (error instanceof AuthRefusal) return error;
  if (error instanceof joseErrors.JWTExpired) {
    return new AuthRefusal(error.claim === 'iat' ? 'too_old' : 'expired');
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    const byClaim: Record<string, RefusalReason> = {
      iss: 'wrong_issuer',
      aud: 'wrong_audience',
      nbf: 'not_yet_valid',
      iat: 'issued_in_future',
      typ: 'wrong_type',
    };
    return new AuthRefusal(byClaim[error.claim] ?? 'claims_invalid');
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed || error instanceof joseErrors.JOSENotSupported) {
    return new AuthRefusal('bad_algorithm');
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return new AuthRefusal('bad_signature');
  if (error instanceof joseErrors.JWKSMultipleMatchingKeys || error instanceof joseErrors.JWKSNoMatchingKey) {
    return new AuthRefusal('unknown_kid');
  }
  // JWSInvalid, JWTInvalid, and anything a hostile token can provoke inside a parser: the token is not usable.
  return new AuthRefusal('malformed_token', { cause: error });
}

/** OIDC discovery (OpenID Connect Discovery 1.0 §4): the document must name the very issuer we configured (§4.3). */
async function discoverJwksUri(issuer: string, signal: AbortSignal): Promise<string> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  // Within the key set's deadline (`signal`), which also bounds the JWKS fetch after it.
  const document = await fetchJson(url, 256 * 1024, signal);
  if (typeof document !== 'object' || document === null) throw new Error(`${url} is not a JSON object`);
  const { issuer: stated, jwks_uri: jwksUri } = document as { issuer?: unknown; jwks_uri?: unknown };
  if (stated !== issuer) throw new Error(`${url} names issuer ${String(stated)}, not ${issuer}`);
  if (typeof jwksUri !== 'string') throw new Error(`${url} has no jwks_uri`);
  return jwksUri;
}
