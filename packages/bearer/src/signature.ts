import { constants, KeyObject, verify, type VerifyKeyObjectInput } from 'node:crypto';
import { errors as joseErrors, type CryptoKey, type JWTPayload } from 'jose';

/**
 * The signature step of a JWS, with node:crypto's one-shot `crypto.verify` instead of WebCrypto: about half the CPU
 * of `crypto.subtle.verify` for RS256 here, the rest of the verification unchanged. The key is the one jose's
 * `createLocalJWKSet` selected and imported for the token's `alg` (kid, kty, use, key_ops); it is used only when it
 * is exactly the key jose would use, else the caller lets jose verify the token. `test/signature.test.ts` (in this package) holds the
 * two paths to the same verdict over every token of the suite and thousands of generated ones.
 */
interface Scheme {
  /** The CryptoKey's algorithm, as jose's table has it (lib/jws_algorithms.js). */
  readonly name: string;
  readonly hash?: string;
  readonly namedCurve?: string;
  /** node:crypto's digest name; `null` for Ed25519, which hashes itself. */
  readonly digest: string | null;
  readonly options: Omit<VerifyKeyObjectInput, 'key'>;
}

const rsa = (bits: number): Scheme => ({
  name: 'RSASSA-PKCS1-v1_5',
  hash: `SHA-${bits}`,
  digest: `sha${bits}`,
  options: { padding: constants.RSA_PKCS1_PADDING },
});
// RFC 7518 §3.5: the salt is as long as the hash, as WebCrypto is told; node:crypto would otherwise accept any length.
const pss = (bits: number): Scheme => ({
  name: 'RSA-PSS',
  hash: `SHA-${bits}`,
  digest: `sha${bits}`,
  options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: bits / 8 },
});
// JWS carries ECDSA signatures as r‖s (RFC 7518 §3.4), never DER.
const ecdsa = (namedCurve: string, bits: number): Scheme => ({
  name: 'ECDSA',
  namedCurve,
  digest: `sha${bits}`,
  options: { dsaEncoding: 'ieee-p1363' },
});
const ed25519: Scheme = { name: 'Ed25519', digest: null, options: {} };

const schemes: Readonly<Record<string, Scheme>> = {
  RS256: rsa(256),
  RS384: rsa(384),
  RS512: rsa(512),
  PS256: pss(256),
  PS384: pss(384),
  PS512: pss(512),
  ES256: ecdsa('P-256', 256),
  ES384: ecdsa('P-384', 384),
  ES512: ecdsa('P-521', 512),
  EdDSA: ed25519,
  Ed25519: ed25519,
};

/** Whether `alg` has a node:crypto scheme here; any other goes to jose. */
export function hasFastScheme(alg: string): boolean {
  return Object.hasOwn(schemes, alg);
}

/** A key jose selected, in the form node:crypto's one-shot verify takes for its `alg`: built once per key. */
export interface SignatureKey {
  /** node:crypto's digest name; `null` for Ed25519, which hashes itself. */
  readonly digest: string | null;
  readonly input: VerifyKeyObjectInput;
}

/**
 * The node:crypto form of `key` for `alg`, or `undefined` when jose would not verify `alg` with it as it is: another
 * algorithm, hash or curve, a key not for verifying, or an RSA modulus under 2048 bits (jose's checkModulusLength).
 */
export function signatureKeyFor(alg: string, key: CryptoKey): SignatureKey | undefined {
  const scheme = Object.hasOwn(schemes, alg) ? schemes[alg] : undefined;
  if (!scheme || key.type !== 'public' || !key.usages.includes('verify')) return undefined;
  const algorithm = key.algorithm as {
    name: string;
    hash?: { name: string };
    namedCurve?: string;
    modulusLength?: number;
  };
  if (algorithm.name !== scheme.name) return undefined;
  if (scheme.hash !== undefined && algorithm.hash?.name !== scheme.hash) return undefined;
  if (scheme.namedCurve !== undefined && algorithm.namedCurve !== scheme.namedCurve) return undefined;
  if (
    scheme.name.startsWith('RSA') &&
    !(typeof algorithm.modulusLength === 'number' && algorithm.modulusLength >= 2048)
  ) {
    return undefined;
  }
  return { digest: scheme.digest, input: { key: KeyObject.from(key), ...scheme.options } };
}

/**
 * Checks the signature of a compact JWS whose parts are already known to be base64url, with a key built for its
 * `alg`: `signingInput` is the first two parts with their dot, `signature` the third.
 */
export function signatureHolds(key: SignatureKey, signingInput: string, signature: string): boolean {
  try {
    return verify(key.digest, Buffer.from(signingInput, 'latin1'), key.input, Buffer.from(signature, 'base64url'));
  } catch {
    // A signature of the wrong length for its key, say: WebCrypto answers false (or throws) there too.
    return false;
  }
}

const normalizeTyp = (value: string) => {
  const lower = value.toLowerCase();
  return value.includes('/') ? lower : `application/${lower}`;
};

function numericDate(claims: JWTPayload, claim: 'iat' | 'nbf' | 'exp', required = false): number | undefined {
  const value = claims[claim];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'number') {
    throw new joseErrors.JWTClaimValidationFailed(`"${claim}" claim must be a number`, claims, claim, 'invalid');
  }
  return value;
}

/** The claim rules the verifier sets for an issuer: jose's options, with the forms this verifier always uses. */
export interface ClaimRules {
  readonly issuer: readonly string[];
  readonly audience?: readonly string[];
  readonly typ?: string;
  readonly requiredClaims: readonly string[];
  /** Seconds. */
  readonly clockTolerance: number;
  /** Seconds. */
  readonly maxTokenAge?: number;
}

export type ClaimCheck = (header: Readonly<Record<string, unknown>>, claims: JWTPayload, nowMs: number) => void;

function claimFailed(message: string, claims: JWTPayload, claim: string, reason = 'check_failed') {
  return new joseErrors.JWTClaimValidationFailed(message, claims, claim, reason);
}

/**
 * jose's JWT Claims Set checks (lib/jwt_claims_set.js validateClaimsSet) for those rules, throwing jose's own errors
 * so that a refusal has the same reason either way. What depends on the rules alone is worked out here, once.
 */
export function compileClaimRules(rules: ClaimRules): ClaimCheck {
  const { typ, requiredClaims, issuer, audience, maxTokenAge, clockTolerance: tolerance } = rules;
  const expectedTyp = typ === undefined ? undefined : normalizeTyp(typ);
  // jose's order: the issuer's presence first, then the audience's, the age's, and the required claims'.
  const presence = [...requiredClaims];
  if (maxTokenAge !== undefined) presence.push('iat');
  if (audience !== undefined) presence.push('aud');
  presence.push('iss');
  const mustBePresent = [...new Set(presence.reverse())];

  return (header, claims, nowMs) => {
    if (
      expectedTyp !== undefined &&
      (typeof header['typ'] !== 'string' || normalizeTyp(header['typ']) !== expectedTyp)
    ) {
      throw claimFailed('unexpected "typ" JWT header value', claims, 'typ');
    }
    for (const claim of mustBePresent) {
      if (!Object.hasOwn(claims, claim))
        throw claimFailed(`missing required "${claim}" claim`, claims, claim, 'missing');
    }
    if (!issuer.includes(claims.iss as string)) throw claimFailed('unexpected "iss" claim value', claims, 'iss');
    if (audience !== undefined) {
      const { aud } = claims;
      const present =
        typeof aud === 'string' ? audience.includes(aud) : Array.isArray(aud) && audience.some((a) => aud.includes(a));
      if (!present) throw claimFailed('unexpected "aud" claim value', claims, 'aud');
    }
    const now = Math.floor(nowMs / 1000);
    const iat = numericDate(claims, 'iat', maxTokenAge !== undefined);
    const nbf = numericDate(claims, 'nbf');
    if (nbf !== undefined && nbf > now + tolerance)
      throw claimFailed('"nbf" claim timestamp check failed', claims, 'nbf');
    const exp = numericDate(claims, 'exp');
    if (exp !== undefined && exp <= now - tolerance) {
      throw new joseErrors.JWTExpired('"exp" claim timestamp check failed', claims, 'exp', 'check_failed');
    }
    if (maxTokenAge !== undefined) {
      const age = now - (iat ?? 0);
      if (age - tolerance > maxTokenAge) {
        throw new joseErrors.JWTExpired(
          '"iat" claim timestamp check failed (too far in the past)',
          claims,
          'iat',
          'check_failed',
        );
      }
      if (age < -tolerance) {
        throw claimFailed('"iat" claim timestamp check failed (it should be in the past)', claims, 'iat');
      }
    }
  };
}
