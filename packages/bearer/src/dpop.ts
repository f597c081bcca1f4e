import { createHash } from 'node:crypto';
import {
  calculateJwkThumbprint,
  EmbeddedJWK,
  jwtVerify,
  type CryptoKey,
  type FlattenedJWSInput,
  type JWK,
  type JWSHeaderParameters,
} from 'jose';
import { LRUCache } from 'lru-cache';
import { defaults, supportedAlgorithms, type Algorithm } from './defaults.js';
import type { Principal } from './principal.js';
import { Refused, refused } from './refusals.js';
import { decodeJsonPart } from './token-parts.js';

/**
 * DPoP (RFC 9449): a token bound to a key (`cnf.jkt`) is admitted only with a fresh proof, signed by that key, of
 * this very request. Without `required`, plain bearer tokens are admitted beside DPoP ones ("allowed" mode).
 */
export interface DpopOptions {
  /** Refuse plain bearer tokens: only DPoP-bound tokens with a valid proof are admitted (RFC 9449 §7.1). */
  readonly required?: boolean;
  /**
   * This resource's URL, e.g. `https://api.example.com`: the proof's `htu` must be its origin followed by the path of
   * the request (RFC 9449 §4.3 step 9). Never the `Host` header, which the client chooses (the lesson of
   * auth0/node-oauth2-jwt-bearer#244). Without it the origin of `resourceMetadataUrl` is used; with neither, the
   * `DPoP` scheme is not accepted (a bound token is still refused as a bearer token).
   */
  readonly resource?: string;
  /** The proof algorithms accepted, asymmetric only (RFC 9449 §4.3 step 5); every supported one by default. */
  readonly algorithms?: readonly Algorithm[];
  /** How old a proof may be, by its `iat`, in seconds (RFC 9449 §11.1); 300 by default, as Auth0's `iatOffset`. */
  readonly proofMaxAgeSec?: number;
  /** Seconds a proof's `iat` may be ahead of our clock; the verifier's clock tolerance by default. */
  readonly clockToleranceSec?: number;
  /**
   * The replay cache: proofs (by key thumbprint and `jti`) remembered for the window (RFC 9449 §11.1). Bounded: past
   * `maxEntries` the oldest is forgotten, so replays are caught for sure up to `maxEntries` proofs per window.
   */
  readonly replayCache?: { readonly maxEntries: number };
}

/** What the authenticator asks of a request under the `DPoP` scheme. */
export interface DpopCheck {
  readonly required: boolean;
  /** False when no resource URL is known: the `DPoP` scheme is then not accepted, and not offered. */
  readonly acceptsProofs: boolean;
  /** For the `DPoP` challenge's `algs` (RFC 9449 §7.1), already joined. */
  readonly algs: string;
  /**
   * The verified token's principal if `proof` holds for it and for this request, else the refusal. `request` is the
   * HTTP request's identity (its headers object): one request asked twice (Express's `bearer()`, then a route's
   * rule) is not a replay of its own proof.
   */
  prove(principal: Principal, token: string, proof: string, request: ProofRequest): Promise<Principal | Refused>;
}

/** The request a proof must name: its method, its whole path (no query), and an object that is this request alone. */
export interface ProofRequest {
  readonly method: string;
  readonly path: string;
  readonly identity: object;
}

/** Settings once checked and resolved. */
interface ProofRules {
  readonly origin: string;
  readonly algorithms: readonly string[];
  readonly maxAgeSec: number;
  readonly toleranceSec: number;
  readonly now: () => number;
  readonly keys: ProofKeys;
}

const proofPart = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function createDpopCheck(
  options: DpopOptions,
  fallbackResource: string | undefined,
  now: () => number,
  clockToleranceSec: number,
): DpopCheck {
  const algorithms = options.algorithms ?? supportedAlgorithms;
  // RFC 9449 §4.3 step 5: asymmetric only; a symmetric or `none` proof proves no key.
  const unsupported = algorithms.find((alg) => !(supportedAlgorithms as readonly string[]).includes(alg));
  if (unsupported !== undefined) throw new TypeError(`dpop: unsupported algorithm ${unsupported}`);
  const resource = options.resource ?? fallbackResource;
  if (resource !== undefined && !URL.canParse(resource)) throw new TypeError('dpop.resource must be an absolute URL');
  const origin = resource === undefined ? undefined : new URL(resource).origin;
  if (options.required && origin === undefined) {
    throw new TypeError('dpop.required needs dpop.resource (or resourceMetadataUrl) to check each proof’s htu');
  }
  const maxAgeSec = options.proofMaxAgeSec ?? defaults.dpop.proofMaxAgeSec;
  const toleranceSec = options.clockToleranceSec ?? clockToleranceSec;
  const rules =
    origin === undefined
      ? undefined
      : { origin, algorithms, maxAgeSec, toleranceSec, now, keys: createProofKeys(proofKeyCacheSize) };
  const seen = new LRUCache<string, number>({ max: options.replayCache?.maxEntries ?? defaults.dpop.replayCacheSize });
  /** Per HTTP request, the proof and token already proven. */
  const proven = new WeakMap<object, { readonly proof: string; readonly token: string }>();

  return {
    required: options.required ?? false,
    acceptsProofs: rules !== undefined,
    algs: algorithms.join(' '),
    async prove(principal, token, proof, request) {
      const jkt = boundKey(principal);
      if (jkt === undefined || jkt === '') return refused('dpop_token_unbound');
      const before = proven.get(request.identity);
      if (before?.proof === proof && before.token === token) return principal;
      if (!rules) return refused('dpop_proof_invalid');
      const checked = await checkProof(proof, token, jkt, request, rules);
      if (checked instanceof Refused) return checked;
      // §11.1: a proof is used once. Keyed by thumbprint and jti, so that one client cannot spend another's jti.
      const key = `${jkt}.${checked.jti}`;
      const until = seen.get(key);
      if (until !== undefined && until > now()) return refused('dpop_proof_replayed');
      seen.set(key, now() + (maxAgeSec + 2 * toleranceSec) * 1000);
      proven.set(request.identity, { proof, token });
      return principal;
    },
  };
}

/**
 * A bearer token's verdict: refused if the token is bound to a key (RFC 9449 §7.2), whatever the DPoP setting, since
 * a binding a client could drop would protect nothing.
 */
export function refuseBoundBearer(verdict: Principal | Refused): Principal | Refused {
  return verdict instanceof Refused || boundKey(verdict) === undefined ? verdict : refused('dpop_bound_as_bearer');
}

/** `cnf.jkt` (RFC 7800, RFC 9449 §6.1) as a string, `''` when present but not a string; `undefined` when unbound. */
function boundKey(principal: Principal): string | undefined {
  const cnf = principal.claims['cnf'];
  if (typeof cnf !== 'object' || cnf === null || !('jkt' in cnf)) return undefined;
  return typeof cnf.jkt === 'string' ? cnf.jkt : '';
}

/** RFC 9449 §4.3 steps 2–12 but the replay: the proof's `jti` when it holds, else the refusal. */
async function checkProof(
  proof: string,
  token: string,
  jkt: string,
  request: ProofRequest,
  rules: ProofRules,
): Promise<{ readonly jti: string } | Refused> {
  const verified = await verifyProofJws(proof, rules);
  if (verified instanceof Refused) return verified;
  const { payload, thumbprint } = verified;
  const { jti, htm, htu, iat, ath } = payload;
  if (typeof jti !== 'string' || jti.length === 0 || typeof htm !== 'string' || typeof htu !== 'string') {
    return refused('dpop_proof_invalid');
  }
  // §4.3 step 11: a proof is good for a short window only; its age, and a little clock skew ahead.
  const nowSec = rules.now() / 1000;
  if (
    typeof iat !== 'number' ||
    iat < nowSec - rules.maxAgeSec - rules.toleranceSec ||
    iat > nowSec + rules.toleranceSec
  ) {
    return refused('dpop_proof_stale');
  }
  // §4.3 steps 8–9: this method, this URI, so that a proof seen elsewhere cannot be used here.
  const expected = normalizedUri(rules.origin + request.path);
  if (htm !== request.method || expected === undefined || normalizedUri(htu) !== expected) {
    return refused('dpop_proof_mismatch');
  }
  // §4.3 step 12 and §4.2: `ath` binds the proof to this token, so a proof cannot be used with another.
  if (typeof ath !== 'string' || ath !== createHash('sha256').update(token).digest('base64url')) {
    return refused('dpop_proof_wrong_token');
  }
  // §6.1: the key that signed the proof is the key the token was issued to.
  if (thumbprint !== jkt) return refused('dpop_key_mismatch');
  return { jti };
}

/** §4.3 steps 2–7: one well-formed JWS, typ, an allowed asymmetric alg, a signature by its own public jwk. */
async function verifyProofJws(
  proof: string,
  rules: ProofRules,
): Promise<{ readonly payload: Record<string, unknown>; readonly thumbprint: string } | Refused> {
  // A proof is a compact JWS of a size no honest client exceeds; its JSON must not name a member twice, as for tokens.
  if (proof.length > defaults.maxTokenBytes || !proofPart.test(proof)) return refused('dpop_proof_invalid');
  const [headerPart = '', payloadPart = ''] = proof.split('.');
  if (decodeJsonPart(headerPart) instanceof Refused || decodeJsonPart(payloadPart) instanceof Refused) {
    return refused('dpop_proof_invalid');
  }
  try {
    let used: ProofKey | undefined;
    // jose's EmbeddedJWK (behind the cache) refuses a private or symmetric jwk; `iat` is required here, its window
    // checked after.
    const verified = await jwtVerify(
      proof,
      async (header, token) => (used = await rules.keys.resolve(header, token)).key,
      {
        typ: 'dpop+jwt',
        algorithms: [...rules.algorithms],
        requiredClaims: ['jti', 'htm', 'htu', 'iat'],
        currentDate: new Date(rules.now()),
      },
    );
    if (!used) return refused('dpop_proof_invalid');
    return { payload: verified.payload, thumbprint: used.thumbprint };
  } catch {
    return refused('dpop_proof_invalid');
  }
}

/** A key from a proof's `jwk` header, imported, and its RFC 7638 thumbprint (what `cnf.jkt` names). */
interface ProofKey {
  readonly key: CryptoKey;
  readonly thumbprint: string;
}

interface ProofKeys {
  resolve(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<ProofKey>;
}

/** How many proof keys are kept imported: about one per client that sends proofs at once. */
const proofKeyCacheSize = 1_000;

/**
 * The keys of proofs, imported once per key rather than once per request: a client signs every proof with the one
 * key its token is bound to, and importing it (with its thumbprint) cost most of a proof's check. Keyed by the `jwk`
 * header exactly as sent and the `alg`, the two things jose's `EmbeddedJWK` decides from, so that a hit is what
 * `EmbeddedJWK` would have answered: a `jwk` that differs in any member (a private `d` added, a `use` of `enc`) is
 * another entry, checked afresh. What `EmbeddedJWK` refuses is not kept.
 */
function createProofKeys(maxEntries: number): ProofKeys {
  const keys = new LRUCache<string, ProofKey>({ max: maxEntries });
  return {
    async resolve(header, token) {
      const id = `${String(header.alg)}.${JSON.stringify(header.jwk)}`;
      const known = keys.get(id);
      if (known) return known;
      const key = await EmbeddedJWK(header, token);
      const imported = { key, thumbprint: await calculateJwkThumbprint(header.jwk as JWK, 'sha256') };
      keys.set(id, imported);
      return imported;
    },
  };
}

const unreserved = /[A-Za-z0-9\-._~]/;

/**
 * The URI as RFC 9449 §4.3 step 9 compares it: syntax- and scheme-based normalization (RFC 3986 §6.2.2, §6.2.3), as
 * WHATWG URL parsing does (case of scheme and host, default port, dot segments), plus percent-encoded unreserved
 * characters decoded and hex digits upper-cased; no query, no fragment. `undefined` when it does not parse.
 */
function normalizedUri(uri: string): string | undefined {
  if (!URL.canParse(uri)) return undefined;
  const url = new URL(uri);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  const path = url.pathname.replace(/%[0-9a-fA-F]{2}/g, (escape) => {
    const char = String.fromCharCode(parseInt(escape.slice(1), 16));
    return unreserved.test(char) ? char : escape.toUpperCase();
  });
  return url.origin + path;
}
