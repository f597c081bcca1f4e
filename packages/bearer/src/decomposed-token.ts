import type { FlattenedJWSInput, JWTPayload } from 'jose';
import { Refused, refused } from './refusals.js';
import { decodeJsonPart } from './token-parts.js';

/**
 * A compact JWS taken apart and its JSON decoded, nothing yet trusted: aws-jwt-verify's `DecomposedJwt`
 * (src/jwt.ts), which its sync and async verify paths share, as ours do.
 */
export interface DecomposedToken {
  readonly token: string;
  readonly headerPart: string;
  readonly payloadPart: string;
  readonly signaturePart: string;
  readonly header: Record<string, unknown>;
  readonly claims: JWTPayload;
}

const base64urlToken = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** The token's three parts and its decoded header and claims, or `malformed_token`. */
export function decomposeToken(token: string): DecomposedToken | Refused {
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
  return { token, headerPart, payloadPart, signaturePart, header, claims };
}

/** What jose's key resolvers take: the token as a flattened JWS. */
export function flattened({ headerPart, payloadPart, signaturePart }: DecomposedToken): FlattenedJWSInput {
  return { protected: headerPart, payload: payloadPart, signature: signaturePart };
}
