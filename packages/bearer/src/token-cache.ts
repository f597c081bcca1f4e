import { LRUCache } from 'lru-cache';
import type { Principal } from './principal.js';
import type { TrustedIssuer } from './trusted-issuer.js';

/** A verified token, remembered by its exact string. */
export interface CachedToken {
  readonly principal: Principal;
  readonly entry: TrustedIssuer;
  /** The key set generation the signature was checked against. */
  readonly generation: number;
  /** Epoch ms after which the token must be verified again (its expiry, or the end of its maximum age). */
  readonly validUntil: number;
}

/**
 * Verified tokens, keyed by the exact token string, so that no two tokens can ever share an entry
 * (cf. GHSA-rp9m-7r4c-75qg). `undefined` when the cache is off.
 */
export type TokenCache = LRUCache<string, CachedToken>;

export function createTokenCache(maxEntries: number): TokenCache | undefined {
  return maxEntries > 0 ? new LRUCache<string, CachedToken>({ max: maxEntries }) : undefined;
}

/**
 * Unexpired, checked against the key set its issuer holds now, and that set still trusted: past stale-if-error the
 * token is verified anew, and answered as any new token would be (503 while no keys can be had). A refresh that
 * installs a different set changes the generation, so a key the issuer removed stops admitting its tokens.
 * A question: it starts no refresh.
 */
export function stillValid(cached: CachedToken, nowMs: number): boolean {
  const { keySet } = cached.entry;
  return nowMs < cached.validUntil && keySet.generation() === cached.generation && keySet.state() !== 'unusable';
}

/** Epoch ms until which a token verified now may be answered from the cache: its expiry, or its maximum age. */
export function validUntil(exp: number, iat: unknown, maxTokenAgeSec: number | undefined): number {
  const maxAgeEnd =
    maxTokenAgeSec !== undefined && typeof iat === 'number' ? iat + maxTokenAgeSec : Number.POSITIVE_INFINITY;
  return Math.min(exp, maxAgeEnd) * 1000;
}
