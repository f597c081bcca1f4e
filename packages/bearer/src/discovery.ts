import { fetchJson, type Fetch } from './fetch-json.js';

/**
 * OIDC discovery (OpenID Connect Discovery 1.0 §4): the document must name the very issuer we configured (§4.3).
 * `maxBytes` is the key set's configured cap, the same as for the JWKS fetch after it.
 */
export async function discoverJwksUri(
  issuer: string,
  signal: AbortSignal,
  fetchImpl: Fetch,
  maxBytes: number,
): Promise<string> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  // Within the key set's deadline (`signal`), which also bounds the JWKS fetch after it.
  const document = await fetchJson(url, maxBytes, signal, fetchImpl);
  if (typeof document !== 'object' || document === null) throw new Error(`${url} is not a JSON object`);
  const { issuer: stated, jwks_uri: jwksUri } = document as { issuer?: unknown; jwks_uri?: unknown };
  if (stated !== issuer) throw new Error(`${url} names issuer ${String(stated)}, not ${issuer}`);
  if (typeof jwksUri !== 'string') throw new Error(`${url} has no jwks_uri`);
  return jwksUri;
}
