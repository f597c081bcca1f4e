import { errors as joseErrors, jwtVerify } from 'jose';
import { LRUCache } from 'lru-cache';
import type { CryptoKey, FlattenedJWSInput, JWSHeaderParameters, JWTPayload, JWTVerifyOptions } from 'jose';
import { defaults, supportedAlgorithms } from './defaults.js';
import { discoverJwksUri } from './discovery.js';
import type { Fetch } from './fetch-json.js';
import { oidcClaims, type IssuerConfig } from './issuers.js';
import { createKeySet, createStaticKeySet, type KeySet, type KeySetEvent, type KeySetView } from './key-set.js';
import type { Principal } from './principal.js';
import { Refused, refused, type RefusalReason } from './refusals.js';
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
  /** The `fetch` for JWKS and discovery documents (jose's `customFetch`): the global one by default. */
  readonly fetch?: Fetch;
  /** Epoch milliseconds; `Date.now` by default. */
  readonly now?: () => number;
  /**
   * Who checks the signature: node:crypto's one-shot `crypto.verify` on the key jose selected (the default, about
   * half the CPU), or jose's WebCrypto path. Both give the same verdict (test/signature.test.ts in this package); every other check
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
  readonly keySet: KeySetView;
}

/** A token's verdict: who it speaks for, or why it is refused. */
export type Verdict = Principal | Refused;

export interface Verifier {
  /**
   * Verifies a bearer token. Answers at once (no promise) when no I/O is needed: a token verified before (unexpired,
   * its key set usable and unchanged), a token refused before any key is needed, or one whose key was already
   * selected, checked by node:crypto. Otherwise (a kid not selected yet, jose's path, a revocation hook) a promise.
   * The token is parsed once either way.
   */
  check(token: string): Verdict | Promise<Verdict>;
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
  /** jose's key resolver over the key set, for the tokens jose verifies. */
  readonly getKey: (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;
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

/** A key set's refusal, carried through jose's resolver (which can only throw) back to the verifier. */
class KeyRefusal extends Error {
  constructor(readonly refused: Refused) {
    super(refused.reason);
  }
}

const base64urlToken = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Token → principal or refusal, for every configured issuer: the issuer's key set (remote, discovered or static),
 * jose's checks (node:crypto's signature path where it gives the same verdict), the issuer's claims mapping, and a
 * cache of verified tokens tied to the key set generation.
 */
export function createVerifier(options: VerifierOptions): Verifier {
  if (options.issuers.length === 0) throw new TypeError('at least one issuer must be configured');
  const clockTolerance = options.clockToleranceSec ?? defaults.clockToleranceSec;
  const maxTokenBytes = options.maxTokenBytes ?? defaults.maxTokenBytes;
  const now = options.now ?? Date.now;
  const signatureCheck = options.signatureCheck ?? 'node';
  const { isRevoked } = options;

  const byIssuer = new Map<string, Trusted>();
  const trusted = options.issuers.map((config) => {
    const algorithms = config.algorithms ?? defaults.algorithms;
    for (const alg of algorithms) {
      if (!(supportedAlgorithms as readonly string[]).includes(alg)) {
        throw new TypeError(`algorithm ${alg} is not an asymmetric JWS algorithm`);
      }
    }
    const accepted = [config.issuer, ...(config.alternateIssuers ?? [])];
    const fetchImpl = options.fetch ?? fetch;
    const keySet = config.jwks
      ? createStaticKeySet(config.jwks, now)
      : createKeySet({
          ...config.keySet,
          now,
          fetch: fetchImpl,
          // Discovery reads no more than the JWKS fetch may: one byte cap for every document fetched for the key set.
          jwksUri:
            config.jwksUri ??
            ((signal, fetcher) =>
              discoverJwksUri(config.issuer, signal, fetcher, config.keySet?.maxBytes ?? defaults.keySet.maxBytes)),
          onEvent: (event) => options.onKeySetEvent?.(config.issuer, event),
        });
    const claimRules = {
      issuer: accepted,
      algorithms: [...algorithms],
      requiredClaims: [...new Set(['exp', ...(config.requiredClaims ?? [])])],
      clockTolerance,
      ...(config.audience ? { audience: [...config.audience] } : {}),
      ...(config.typ ? { typ: config.typ } : {}),
      ...(options.maxTokenAgeSec === undefined ? {} : { maxTokenAge: options.maxTokenAgeSec }),
    };
    const entry: Trusted = {
      config,
      keySet,
      async getKey(header, token) {
        const key = await keySet.select(header, token);
        if (key instanceof Refused) throw new KeyRefusal(key);
        return key;
      },
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

  const cacheSize = options.tokenCache === false ? 0 : (options.tokenCache?.maxEntries ?? defaults.tokenCacheSize);
  const cache = cacheSize > 0 ? new LRUCache<string, CachedToken>({ max: cacheSize }) : undefined;
  const stats: VerifierStats = {
    tokenCacheHits: 0,
    tokenCacheMisses: 0,
    nodeSignatureChecks: 0,
    joseSignatureChecks: 0,
  };

  function check(token: string): Verdict | Promise<Verdict> {
    // Checked before any decoding, so that a huge token costs us nothing but its length.
    if (token.length > maxTokenBytes) return refused('token_too_large');
    const known = remembered(token);
    if (known) return isRevoked ? revocation(known) : known;
    if (cache) stats.tokenCacheMisses += 1;
    const parsed = parse(token);
    if (parsed instanceof Refused) return parsed;
    const verdict = verifyParsed(parsed);
    if (!isRevoked) return verdict;
    return Promise.resolve(verdict).then((v) => (v instanceof Refused ? v : revocation(v)));
  }

  /** The revocation hook sees every request, remembered tokens included. */
  async function revocation(principal: Principal): Promise<Verdict> {
    return (await isRevoked?.(principal)) ? refused('revoked') : principal;
  }

  /**
   * A key set may be used now: fresh, or stale within stale-if-error. Past its maximum age the verifier starts one
   * refresh in the background (the key set's `revalidate`) and answers from the held set meanwhile.
   */
  function usable(keySet: KeySet): boolean {
    const state = keySet.state();
    if (state === 'stale') keySet.revalidate();
    return state !== 'unusable';
  }

  /**
   * Unexpired, checked against the key set its issuer holds now, and that set still trusted: past stale-if-error the
   * token is verified anew, and answered as any new token would be (503 while no keys can be had). A refresh that
   * installs a different set changes the generation, so a key the issuer removed stops admitting its tokens.
   */
  function stillValid(cached: CachedToken): boolean {
    const { keySet } = cached.entry;
    return now() < cached.validUntil && keySet.generation() === cached.generation && usable(keySet);
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
  function parse(token: string): Parsed | Refused {
    // Three base64url parts, checked once here: the decoders below rely on it.
    if (!base64urlToken.test(token)) return refused('malformed_token');
    const [headerPart = '', payloadPart = '', signaturePart = ''] = token.split('.');
    // No base64 text is one character past a multiple of four: jose refuses such a part, and a lenient decoder
    // (Buffer's) would drop the extra character, accepting a token jose refuses.
    if (headerPart.length % 4 === 1 || payloadPart.length % 4 === 1 || signaturePart.length % 4 === 1) {
      return refused('malformed_token');
    }
    const header = decodeJsonPart(headerPart);
    if (header instanceof Refused) return header;
    const claims = decodeJsonPart(payloadPart);
    if (claims instanceof Refused) return claims;
    // We implement no JWS extensions, so any `crit` entry is one we do not understand (RFC 7515 §4.1.11).
    if (header['crit'] !== undefined) return refused('malformed_token');
    // The issuer picks which configured key set to use; a token can never point us at a URL of its own, so the
    // `jku`, `x5u`, `x5c` and `jwk` headers are never consulted (RFC 8725 §3.10, CVE-2018-0114).
    const iss = claims['iss'];
    const entry = typeof iss === 'string' ? byIssuer.get(iss) : undefined;
    if (!entry) return refused('wrong_issuer');
    const kid = header['kid'];
    if (typeof kid !== 'string') return refused('unknown_kid');
    if (entry.keySet.refusesWithoutFetch(kid)) {
      entry.keySet.countCooldownRefusal();
      return refused('unknown_kid');
    }
    // node:crypto checks the signature when it can do exactly what jose would (an allowed alg it has a scheme for,
    // the key jose selects, fit for that alg as it is); otherwise jose verifies the token and says why it refuses.
    const alg = header['alg'];
    const fastAlg =
      signatureCheck === 'node' && typeof alg === 'string' && entry.fastAlgorithms.has(alg) ? alg : undefined;
    return { token, headerPart, payloadPart, signaturePart, header, claims, entry, kid, fastAlg };
  }

  /** At once when node:crypto has the key already; else after the key set's selection, or by jose. */
  function verifyParsed(parsed: Parsed): Verdict | Promise<Verdict> {
    if (parsed.fastAlg === undefined) return verifyWithJose(parsed);
    const key = knownSignatureKey(parsed);
    if (key) return verifyWithKey(parsed, key);
    return selectKey(parsed).then((selected) => {
      if (selected instanceof Refused) return selected;
      return selected ? verifyWithKey(parsed, selected) : verifyWithJose(parsed);
    });
  }

  async function verifyWithJose(parsed: Parsed): Promise<Verdict> {
    stats.joseSignatureChecks += 1;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(parsed.token, parsed.entry.getKey, {
        ...parsed.entry.options,
        currentDate: new Date(now()),
      }));
    } catch (error) {
      return toRefusal(error);
    }
    return accept(parsed, payload);
  }

  /** node:crypto's signature check and jose's claim checks, at once. */
  function verifyWithKey(parsed: Parsed, key: SignatureKey): Verdict {
    stats.nodeSignatureChecks += 1;
    const { token, headerPart, payloadPart, signaturePart, entry } = parsed;
    if (!signatureHolds(key, token.slice(0, headerPart.length + 1 + payloadPart.length), signaturePart)) {
      return refused('bad_signature');
    }
    try {
      entry.checkClaims(parsed.header, parsed.claims, now());
    } catch (error) {
      return toRefusal(error);
    }
    return accept(parsed, parsed.claims);
  }

  /** The checks of our own after jose's, the issuer's claims mapping, and the cache entry. */
  function accept(parsed: Parsed, payload: JWTPayload): Verdict {
    const { entry } = parsed;
    const generation = entry.keySet.generation();
    const nowSec = Math.floor(now() / 1000);
    if (typeof payload.iat === 'number' && payload.iat > nowSec + clockTolerance) return refused('issued_in_future');
    const mapped = (entry.config.claims ?? oidcClaims)(payload);
    if (typeof mapped === 'string') return refused(mapped);
    if (typeof mapped.subject !== 'string' || mapped.subject.length === 0) return refused('claims_invalid');
    const principal: Principal = {
      subject: mapped.subject,
      clientId: mapped.clientId,
      scopes: mapped.scopes ?? [],
      groups: mapped.groups ?? [],
      username: mapped.username,
      issuer: entry.config.issuer,
      tokenUse: mapped.tokenUse,
      expiresAt: payload.exp ?? 0,
      claims: payload,
    };
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
    if (fastAlg === undefined || signatureKeys.generation !== keySet.generation() || !usable(keySet)) return undefined;
    return signatureKeys.byAlg.get(fastAlg)?.get(kid);
  }

  /**
   * jose's selection (createLocalJWKSet: kid, kty for alg, use, key_ops), then the node:crypto form of its key;
   * `undefined` when node:crypto cannot use the key as jose would, so that jose verifies the token.
   */
  async function selectKey(parsed: Parsed): Promise<SignatureKey | Refused | undefined> {
    const { entry, fastAlg, kid, header } = parsed;
    if (fastAlg === undefined) return undefined;
    let selected: CryptoKey | Refused;
    try {
      selected = await entry.keySet.select(header, {
        protected: parsed.headerPart,
        payload: parsed.payloadPart,
        signature: parsed.signaturePart,
      });
    } catch (error) {
      return toRefusal(error);
    }
    if (selected instanceof Refused) return selected;
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
    check,
    async warmUp() {
      await Promise.all(trusted.map((entry) => entry.keySet.refresh()));
    },
    ready: () => trusted.every((entry) => entry.keySet.status().ready),
    issuers: trusted.map((entry) => ({ issuer: entry.config.issuer, keySet: entry.keySet })),
    stats,
  };
}

/** jose's errors (thrown by jose's path, or by the claim checks node:crypto's path shares) as refusal reasons. */
function toRefusal(error: unknown): Refused {
  if (error instanceof KeyRefusal) return error.refused;
  if (error instanceof joseErrors.JWTExpired) return refused(error.claim === 'iat' ? 'too_old' : 'expired');
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    // A required claim that is absent is a token of the wrong shape (RFC 9068 §2.2), whichever claim it is; `iss`
    // and `aud` keep their own reasons, as before required claims were configurable.
    if (error.reason === 'missing' && error.claim !== 'iss' && error.claim !== 'aud') return refused('claims_invalid');
    return refused(byClaim[error.claim] ?? 'claims_invalid');
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed || error instanceof joseErrors.JOSENotSupported) {
    return refused('bad_algorithm');
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return refused('bad_signature');
  if (error instanceof joseErrors.JWKSMultipleMatchingKeys || error instanceof joseErrors.JWKSNoMatchingKey) {
    return refused('unknown_kid');
  }
  // JWSInvalid, JWTInvalid, and anything a hostile token can provoke inside a parser: the token is not usable.
  return refused('malformed_token');
}

const byClaim: Readonly<Record<string, RefusalReason>> = {
  iss: 'wrong_issuer',
  aud: 'wrong_audience',
  nbf: 'not_yet_valid',
  iat: 'issued_in_future',
  typ: 'wrong_type',
};
