import { errors as joseErrors, jwtVerify } from 'jose';
import type { CryptoKey, JWTPayload } from 'jose';
import { decomposeToken, flattened, type DecomposedToken } from './decomposed-token.js';
import { oidcClaims } from './issuers.js';
import type { Principal } from './principal.js';
import { Refused, refused, type RefusalReason } from './refusals.js';
import { signatureHolds, signatureKeyFor, type SignatureKey } from './signature.js';
import { validUntil, type TokenCache } from './token-cache.js';
import { KeyRefusal, knownSignatureKey, rememberSignatureKey, type TrustedIssuer } from './trusted-issuer.js';

// The verify steps as module functions over one context, shared by the synchronous path (a key already selected,
// checked by node:crypto) and the asynchronous ones (a key to select, or jose), as aws-jwt-verify's
// verifyDecomposedJwt and verifyDecomposedJwtSync share their steps (src/jwt-verifier.ts), and as jose's jwtVerify
// is a pipeline of module functions (src/jwt/verify.ts).

export interface VerifierStats {
  tokenCacheHits: number;
  tokenCacheMisses: number;
  /** Signatures checked by node:crypto, and by jose (configured so, or a token node:crypto leaves to jose). */
  nodeSignatureChecks: number;
  joseSignatureChecks: number;
}

/** A token's verdict: who it speaks for, or why it is refused. */
export type Verdict = Principal | Refused;

/** What every step reads: the trusted issuers, the settings with their defaults applied, and the shared counters. */
export interface VerifyContext {
  readonly byIssuer: ReadonlyMap<string, TrustedIssuer>;
  readonly now: () => number;
  readonly clockToleranceSec: number;
  readonly maxTokenAgeSec: number | undefined;
  readonly signatureCheck: 'node' | 'jose';
  readonly tokenCache: TokenCache | undefined;
  readonly stats: VerifierStats;
}

/** A decomposed token from a trusted issuer, with every check that needs no key passed. */
export interface ParsedToken extends DecomposedToken {
  readonly entry: TrustedIssuer;
  readonly kid: string;
  /** The token's `alg` when node:crypto checks its signature here; `undefined`: jose verifies the token. */
  readonly fastAlg: string | undefined;
}

/** Every check that needs no key, in the order that costs an attacker's token the least. */
export function parseToken(context: VerifyContext, token: string): ParsedToken | Refused {
  const decomposed = decomposeToken(token);
  if (decomposed instanceof Refused) return decomposed;
  const { header, claims } = decomposed;
  // The issuer picks which configured key set to use; a token can never point us at a URL of its own, so the
  // `jku`, `x5u`, `x5c` and `jwk` headers are never consulted (RFC 8725 §3.10, CVE-2018-0114).
  const iss = claims['iss'];
  const entry = typeof iss === 'string' ? context.byIssuer.get(iss) : undefined;
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
    context.signatureCheck === 'node' && typeof alg === 'string' && entry.fastAlgorithms.has(alg) ? alg : undefined;
  const { headerPart, payloadPart, signaturePart } = decomposed;
  return { token, headerPart, payloadPart, signaturePart, header, claims, entry, kid, fastAlg };
}

/** At once when node:crypto has the key already; else after the key set's selection, or by jose. */
export function verifyParsed(context: VerifyContext, parsed: ParsedToken): Verdict | Promise<Verdict> {
  const { fastAlg, entry, kid } = parsed;
  if (fastAlg === undefined) return verifyWithJose(context, parsed);
  const key = knownSignatureKey(entry, fastAlg, kid);
  if (key) {
    // The one command a request gives the key set when it skips `select`: refresh in the background if stale.
    entry.keySet.revalidate();
    return verifyWithKey(context, parsed, key);
  }
  return selectSignatureKey(parsed).then((selected) => {
    if (selected instanceof Refused) return selected;
    return selected ? verifyWithKey(context, parsed, selected) : verifyWithJose(context, parsed);
  });
}

async function verifyWithJose(context: VerifyContext, parsed: ParsedToken): Promise<Verdict> {
  context.stats.joseSignatureChecks += 1;
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(parsed.token, parsed.entry.getKey, {
      ...parsed.entry.options,
      currentDate: new Date(context.now()),
    }));
  } catch (error) {
    return toRefusal(error);
  }
  return accept(context, parsed, payload);
}

/** node:crypto's signature check and jose's claim checks, at once. */
function verifyWithKey(context: VerifyContext, parsed: ParsedToken, key: SignatureKey): Verdict {
  context.stats.nodeSignatureChecks += 1;
  const { token, headerPart, payloadPart, signaturePart, entry } = parsed;
  if (!signatureHolds(key, token.slice(0, headerPart.length + 1 + payloadPart.length), signaturePart)) {
    return refused('bad_signature');
  }
  try {
    entry.checkClaims(parsed.header, parsed.claims, context.now());
  } catch (error) {
    return toRefusal(error);
  }
  return accept(context, parsed, parsed.claims);
}

/**
 * jose's selection (createLocalJWKSet: kid, kty for alg, use, key_ops), then the node:crypto form of its key;
 * `undefined` when node:crypto cannot use the key as jose would, so that jose verifies the token.
 */
async function selectSignatureKey(parsed: ParsedToken): Promise<SignatureKey | Refused | undefined> {
  const { entry, fastAlg, kid, header } = parsed;
  if (fastAlg === undefined) return undefined;
  let selected: CryptoKey | Refused;
  try {
    selected = await entry.keySet.select(header, flattened(parsed));
  } catch (error) {
    return toRefusal(error);
  }
  if (selected instanceof Refused) return selected;
  const key = signatureKeyFor(fastAlg, selected);
  if (key) rememberSignatureKey(entry, fastAlg, kid, key);
  return key;
}

/** The checks of our own after jose's, the issuer's claims mapping, and the cache entry. */
function accept(context: VerifyContext, parsed: ParsedToken, payload: JWTPayload): Verdict {
  const { entry } = parsed;
  const generation = entry.keySet.generation();
  const nowSec = Math.floor(context.now() / 1000);
  if (typeof payload.iat === 'number' && payload.iat > nowSec + context.clockToleranceSec) {
    return refused('issued_in_future');
  }
  const principal = principalOf(entry, payload);
  if (principal instanceof Refused) return principal;
  const { tokenCache } = context;
  if (tokenCache && typeof payload.exp === 'number') {
    const until = validUntil(payload.exp, payload.iat, context.maxTokenAgeSec);
    tokenCache.set(parsed.token, { principal, entry, generation, validUntil: until });
  }
  return principal;
}

/** The issuer's claims mapping (Cognito's, RFC 9068's, or plain OIDC's), or the reason it refuses the claims. */
function principalOf(entry: TrustedIssuer, payload: JWTPayload): Principal | Refused {
  const mapped = (entry.config.claims ?? oidcClaims)(payload);
  if (typeof mapped === 'string') return refused(mapped);
  if (typeof mapped.subject !== 'string' || mapped.subject.length === 0) return refused('claims_invalid');
  return {
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
}

/** jose's errors (thrown by jose's path, or by the claim checks node:crypto's path shares) as refusal reasons. */
export function toRefusal(error: unknown): Refused {
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
