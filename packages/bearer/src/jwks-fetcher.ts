import { fetchJson, type Fetch } from './fetch-json.js';
import { parseJwks, toHeld, type Held } from './jwks.js';

export interface FetchLimits {
  /** Discovery and the fetch together, headers and body, must finish within this (not a per-socket idle timeout). */
  readonly timeoutMs: number;
  /** A larger body is refused without being read to the end. */
  readonly maxBytes: number;
}

/** Where a key set's JWKS is: a URL, or a function that finds it (OIDC discovery) within the fetch's deadline. */
export type JwksLocation = string | ((signal: AbortSignal, fetch: Fetch) => Promise<string>);

/**
 * Gets an issuer's JWKS over HTTP, and nothing else: no caching, no cooldown (those are the key set's), as
 * aws-jwt-verify keeps its fetcher apart from its cache (src/https.ts beside src/jwk.ts).
 */
export interface JwksFetcher {
  /** Discovery (once, then remembered) and the JWKS fetch, within one deadline. */
  fetch(): Promise<Held>;
  /** The JWKS URL once known, for events and logs. */
  describeUri(): string;
}

export function createJwksFetcher(
  location: JwksLocation,
  limits: FetchLimits,
  fetchImpl: Fetch,
  now: () => number,
): JwksFetcher {
  let resolvedUri: string | undefined;
  return {
    async fetch(): Promise<Held> {
      // One deadline for discovery and the fetch together: nobody waits longer than the timeout for a key.
      const signal = AbortSignal.timeout(limits.timeoutMs);
      resolvedUri ??= typeof location === 'string' ? location : await location(signal, fetchImpl);
      const body = await fetchJson(resolvedUri, limits.maxBytes, signal, fetchImpl);
      return toHeld(parseJwks(body), now());
    },
    describeUri: () => resolvedUri ?? (typeof location === 'string' ? location : 'jwks'),
  };
}

/** The message and its cause's (fetch's own message, "fetch failed", says nothing of why). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message;
}
