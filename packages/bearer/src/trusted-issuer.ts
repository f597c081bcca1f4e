import type { CryptoKey, FlattenedJWSInput, JWSHeaderParameters, JWTVerifyOptions } from 'jose';
import { defaults, supportedAlgorithms } from './defaults.js';
import { discoverJwksUri } from './discovery.js';
import type { Fetch } from './fetch-json.js';
import type { IssuerConfig } from './issuers.js';
import { createKeySet, createStaticKeySet, type KeySet, type KeySetEvent } from './key-set.js';
import { Refused } from './refusals.js';
import { compileClaimRules, hasFastScheme, type ClaimCheck, type ClaimRules, type SignatureKey } from './signature.js';

/** An issuer the verifier trusts: its configuration, its key set, and what verifying its tokens needs. */
export interface TrustedIssuer {
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

/** What trusting an issuer takes from the verifier's options, defaults applied. */
export interface TrustOptions {
  readonly clockToleranceSec: number;
  readonly maxTokenAgeSec: number | undefined;
  readonly fetch: Fetch;
  readonly now: () => number;
  readonly onKeySetEvent: ((issuer: string, event: KeySetEvent) => void) | undefined;
}

/** The trusted issuers, and each of them under every `iss` it may sign as. */
export interface TrustedIssuers {
  readonly list: readonly TrustedIssuer[];
  readonly byIssuer: ReadonlyMap<string, TrustedIssuer>;
}

/** A key set's refusal, carried through jose's resolver (which can only throw) back to the verifier. */
export class KeyRefusal extends Error {
  constructor(readonly refused: Refused) {
    super(refused.reason);
  }
}

/** Checked at construction, not at first use: an unknown algorithm or an issuer configured twice throws here. */
export function trustIssuers(configs: readonly IssuerConfig[], options: TrustOptions): TrustedIssuers {
  if (configs.length === 0) throw new TypeError('at least one issuer must be configured');
  const byIssuer = new Map<string, TrustedIssuer>();
  const list = configs.map((config) => {
    const entry = trustIssuer(config, options);
    for (const iss of acceptedIssuers(config)) {
      if (byIssuer.has(iss)) throw new TypeError(`issuer ${iss} is configured twice`);
      byIssuer.set(iss, entry);
    }
    return entry;
  });
  return { list, byIssuer };
}

/** The `iss` values an issuer's tokens may carry: its own, and any alternates (Cognito's `issuer-cognito-idp` form). */
function acceptedIssuers(config: IssuerConfig): string[] {
  return [config.issuer, ...(config.alternateIssuers ?? [])];
}

function trustIssuer(config: IssuerConfig, options: TrustOptions): TrustedIssuer {
  const algorithms = config.algorithms ?? defaults.algorithms;
  for (const alg of algorithms) {
    if (!(supportedAlgorithms as readonly string[]).includes(alg)) {
      throw new TypeError(`algorithm ${alg} is not an asymmetric JWS algorithm`);
    }
  }
  const keySet = keySetFor(config, options);
  const claimRules = claimRulesFor(config, algorithms, options);
  return {
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
}

/** The issuer's keys: given up front, at a configured URL, or found by OIDC discovery. */
function keySetFor(config: IssuerConfig, options: TrustOptions): KeySet {
  if (config.jwks) return createStaticKeySet(config.jwks, options.now);
  // Discovery reads no more than the JWKS fetch may: one byte cap for every document fetched for the key set.
  const maxBytes = config.keySet?.maxBytes ?? defaults.keySet.maxBytes;
  return createKeySet({
    ...config.keySet,
    now: options.now,
    fetch: options.fetch,
    jwksUri: config.jwksUri ?? ((signal, fetcher) => discoverJwksUri(config.issuer, signal, fetcher, maxBytes)),
    onEvent: (event) => options.onKeySetEvent?.(config.issuer, event),
  });
}

/** jose's claim options for the issuer, which node:crypto's path compiles and checks as well. */
function claimRulesFor(
  config: IssuerConfig,
  algorithms: readonly string[],
  options: TrustOptions,
): JWTVerifyOptions & ClaimRules {
  return {
    issuer: acceptedIssuers(config),
    algorithms: [...algorithms],
    requiredClaims: [...new Set(['exp', ...(config.requiredClaims ?? [])])],
    clockTolerance: options.clockToleranceSec,
    ...(config.audience ? { audience: [...config.audience] } : {}),
    ...(config.typ ? { typ: config.typ } : {}),
    ...(options.maxTokenAgeSec === undefined ? {} : { maxTokenAge: options.maxTokenAgeSec }),
  };
}

/**
 * A key selected before for this alg and kid, while its key set is unchanged and may be used. A question: it
 * starts no refresh (the verifier asks for that by name, `revalidate`).
 */
export function knownSignatureKey(entry: TrustedIssuer, alg: string, kid: string): SignatureKey | undefined {
  const { signatureKeys, keySet } = entry;
  if (signatureKeys.generation !== keySet.generation() || keySet.state() === 'unusable') return undefined;
  return signatureKeys.byAlg.get(alg)?.get(kid);
}

/** Remembers the node:crypto key for alg and kid, forgetting those of an older key set generation. */
export function rememberSignatureKey(entry: TrustedIssuer, alg: string, kid: string, key: SignatureKey): void {
  const { signatureKeys } = entry;
  const generation = entry.keySet.generation();
  if (signatureKeys.generation !== generation) {
    signatureKeys.byAlg.clear();
    signatureKeys.generation = generation;
  }
  let byKid = signatureKeys.byAlg.get(alg);
  if (!byKid) signatureKeys.byAlg.set(alg, (byKid = new Map<string, SignatureKey>()));
  byKid.set(kid, key);
}
