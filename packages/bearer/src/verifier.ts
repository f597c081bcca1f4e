import { defaults } from './defaults.js';
import type { Fetch } from './fetch-json.js';
import type { IssuerConfig } from './issuers.js';
import type { KeySetEvent, KeySetView } from './key-set.js';
import type { Principal } from './principal.js';
import { Refused, refused } from './refusals.js';
import { createTokenCache, stillValid } from './token-cache.js';
import { trustIssuers } from './trusted-issuer.js';
import { parseToken, verifyParsed, type Verdict, type VerifierStats, type VerifyContext } from './verify-steps.js';

export type { Verdict, VerifierStats } from './verify-steps.js';

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

export interface IssuerState {
  readonly issuer: string;
  readonly keySet: KeySetView;
}

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

/** The verifier's settings with defaults applied, and the context its steps share. */
interface VerifierParts extends VerifyContext {
  readonly maxTokenBytes: number;
  readonly isRevoked: ((principal: Principal) => Promise<boolean>) | undefined;
}

/**
 * Token → principal or refusal, for every configured issuer: the issuer's key set (remote, discovered or static),
 * jose's checks (node:crypto's signature path where it gives the same verdict), the issuer's claims mapping, and a
 * cache of verified tokens tied to the key set generation. The parts: the trusted issuers (trusted-issuer.ts), the
 * token cache (token-cache.ts), and the verify steps (verify-steps.ts, decomposed-token.ts).
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const now = options.now ?? Date.now;
  const clockToleranceSec = options.clockToleranceSec ?? defaults.clockToleranceSec;
  const { list, byIssuer } = trustIssuers(options.issuers, {
    clockToleranceSec,
    maxTokenAgeSec: options.maxTokenAgeSec,
    fetch: options.fetch ?? fetch,
    now,
    onKeySetEvent: options.onKeySetEvent,
  });
  const parts: VerifierParts = {
    byIssuer,
    now,
    clockToleranceSec,
    maxTokenAgeSec: options.maxTokenAgeSec,
    signatureCheck: options.signatureCheck ?? 'node',
    tokenCache: createTokenCache(
      options.tokenCache === false ? 0 : (options.tokenCache?.maxEntries ?? defaults.tokenCacheSize),
    ),
    stats: { tokenCacheHits: 0, tokenCacheMisses: 0, nodeSignatureChecks: 0, joseSignatureChecks: 0 },
    maxTokenBytes: options.maxTokenBytes ?? defaults.maxTokenBytes,
    isRevoked: options.isRevoked,
  };
  return {
    check: (token) => check(parts, token),
    async warmUp() {
      await Promise.all(list.map((entry) => entry.keySet.refresh()));
    },
    ready: () => list.every((entry) => entry.keySet.status().ready),
    issuers: list.map((entry) => ({ issuer: entry.config.issuer, keySet: entry.keySet })),
    stats: parts.stats,
  };
}

function check(parts: VerifierParts, token: string): Verdict | Promise<Verdict> {
  // Checked before any decoding, so that a huge token costs us nothing but its length.
  if (token.length > parts.maxTokenBytes) return refused('token_too_large');
  const known = remembered(parts, token);
  if (known) return parts.isRevoked ? revocation(parts, known) : known;
  if (parts.tokenCache) parts.stats.tokenCacheMisses += 1;
  const parsed = parseToken(parts, token);
  if (parsed instanceof Refused) return parsed;
  const verdict = verifyParsed(parts, parsed);
  if (!parts.isRevoked) return verdict;
  return Promise.resolve(verdict).then((v) => (v instanceof Refused ? v : revocation(parts, v)));
}

/** The revocation hook sees every request, remembered tokens included. */
async function revocation(parts: VerifierParts, principal: Principal): Promise<Verdict> {
  return (await parts.isRevoked?.(principal)) ? refused('revoked') : principal;
}

/** A token verified before and still valid; its key set is asked to refresh in the background if stale. */
function remembered({ tokenCache, now, stats }: VerifierParts, token: string): Principal | undefined {
  const cached = tokenCache?.get(token);
  if (!cached) return undefined;
  if (!stillValid(cached, now())) {
    tokenCache?.delete(token);
    return undefined;
  }
  // The one command this request gives the key set: it skips `select`, which would otherwise have asked.
  cached.entry.keySet.revalidate();
  stats.tokenCacheHits += 1;
  return cached.principal;
}
