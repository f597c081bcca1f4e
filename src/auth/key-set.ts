import { createLocalJWKSet, errors as joseErrors } from 'jose';
import type { JSONWebKeySet, JWSHeaderParameters, FlattenedJWSInput, CryptoKey } from 'jose';
import { AuthRefusal } from './errors.js';
import { fetchJson } from './fetch-json.js';

export interface FetchLimits {
  /** Discovery and the fetch together, headers and body, must finish within this (not a per-socket idle timeout). */
  readonly timeoutMs: number;
  /** A larger body is refused without being read to the end. */
  readonly maxBytes: number;
}

export interface KeySetOptions extends Partial<FetchLimits> {
  /**
   * Where the JWKS is, or a function that finds out (OIDC discovery) within the fetch's own deadline. Never a value
   * taken from a token.
   */
  readonly jwksUri: string | ((signal: AbortSignal) => Promise<string>);
  /** After this long a fetched set is no longer trusted as current, so a key the issuer removed stops working. */
  readonly maxAgeMs?: number;
  /** After a fetch, an unknown `kid` is refused without fetching again for this long (flood protection). */
  readonly cooldownMs?: number;
  /** When a refresh fails, the last good set is still used for this long past its maximum age. */
  readonly staleIfErrorMs?: number;
  readonly now?: () => number;
  readonly onEvent?: (event: KeySetEvent) => void;
}

export type KeySetEvent =
  /** `keys`: how many keys with a `kid` the set holds (a token must name one). */
  | { readonly type: 'fetched'; readonly uri: string; readonly keys: number }
  | { readonly type: 'fetch_failed'; readonly uri: string; readonly error: string }
  | { readonly type: 'stale_used'; readonly uri: string; readonly ageMs: number };

export interface KeySetStats {
  fetches: number;
  failures: number;
  cacheHits: number;
  cooldownRefusals: number;
  staleUses: number;
}

export interface KeySetStatus {
  /** A set is held and is either current or within its stale-if-error window. */
  readonly ready: boolean;
  readonly fetchedAt: number | undefined;
  readonly stale: boolean;
  /** Increases every time a different set is installed; the verified-token cache keys on it. */
  readonly generation: number;
}

export interface KeySet {
  /** jose's key resolver signature: pass it straight to `jwtVerify`. */
  readonly getKey: (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;
  /** Fetch now (startup warm-up). Rejects when the fetch fails. */
  refresh(): Promise<void>;
  /**
   * The held set may be used now: it is current, or past its maximum age but within the stale-if-error window.
   * Past the maximum age this starts one refresh in the background (stale-while-revalidate, RFC 5861 §3), so that
   * no request waits for it. Lets the verified-token cache answer only for a set that is still trusted.
   */
  usable(): boolean;
  /**
   * True when `kid` would certainly be refused without a fetch: the current set lacks it and the cooldown is on.
   * Lets a flood of random kids be refused before any parsing or signature work.
   */
  refusesWithoutFetch(kid: string): boolean;
  /** Increases every time a different set is installed. */
  generation(): number;
  status(): KeySetStatus;
  readonly stats: Readonly<KeySetStats>;
}

interface Held {
  readonly text: string;
  readonly kids: ReadonlySet<string>;
  readonly resolve: ReturnType<typeof createLocalJWKSet>;
  readonly fetchedAt: number;
}

const defaults = {
  maxAgeMs: 10 * 60_000,
  cooldownMs: 30_000,
  staleIfErrorMs: 60 * 60_000,
  timeoutMs: 5_000,
  maxBytes: 256 * 1024,
};
/** After a failed fetch the next attempt waits 1 s, then 2 s, 4 s … up to the cooldown. */
const firstBackoffMs = 1_000;

/**
 * The issuer's key set: fetched, cached for a bounded time, refetched once for an unknown `kid` and then held in a
 * cooldown, shared between concurrent callers, and kept usable through a short outage of the issuer.
 * Key selection itself (kid, alg → kty, use, key_ops) is jose's `createLocalJWKSet`.
 */
export function createKeySet(options: KeySetOptions): KeySet {
  const maxAgeMs = options.maxAgeMs ?? defaults.maxAgeMs;
  const cooldownMs = options.cooldownMs ?? defaults.cooldownMs;
  const staleIfErrorMs = options.staleIfErrorMs ?? defaults.staleIfErrorMs;
  const limits: FetchLimits = {
    timeoutMs: options.timeoutMs ?? defaults.timeoutMs,
    maxBytes: options.maxBytes ?? defaults.maxBytes,
  };
  const now = options.now ?? Date.now;
  const emit = options.onEvent ?? (() => undefined);
  const stats: KeySetStats = { fetches: 0, failures: 0, cacheHits: 0, cooldownRefusals: 0, staleUses: 0 };

  let held: Held | undefined;
  let generation = 0;
  let inflight: Promise<Held> | undefined;
  /** When the last fetch ended: cooldown and backoff count from there, not from its start. */
  let lastAttemptAt = Number.NEGATIVE_INFINITY;
  let consecutiveFailures = 0;
  let resolvedUri: string | undefined;

  const describeUri = (): string => resolvedUri ?? (typeof options.jwksUri === 'string' ? options.jwksUri : 'jwks');

  function nextAttemptAt(): number {
    if (consecutiveFailures === 0) return lastAttemptAt + cooldownMs;
    return lastAttemptAt + Math.min(cooldownMs, firstBackoffMs * 2 ** (consecutiveFailures - 1));
  }

  function unavailable(cause?: unknown): AuthRefusal {
    const seconds = Math.max(1, Math.ceil((nextAttemptAt() - now()) / 1000));
    return new AuthRefusal('keys_unavailable', { retryAfterSeconds: seconds, cause });
  }

  async function load(): Promise<Held> {
    // One deadline for discovery and the fetch together: nobody waits longer than the timeout for a key.
    const signal = AbortSignal.timeout(limits.timeoutMs);
    resolvedUri ??= typeof options.jwksUri === 'string' ? options.jwksUri : await options.jwksUri(signal);
    const body = await fetchJson(resolvedUri, limits.maxBytes, signal);
    const jwks = parseJwks(body);
    const text = JSON.stringify(jwks);
    const kids = new Set(jwks.keys.map((key) => key.kid).filter((kid): kid is string => typeof kid === 'string'));
    return { text, kids, resolve: createLocalJWKSet(jwks), fetchedAt: now() };
  }

  /** One fetch at a time, whoever asks; every caller gets its outcome. */
  function fetchShared(): Promise<Held> {
    if (inflight) return inflight;
    stats.fetches += 1;
    inflight = load()
      .then((next) => {
        lastAttemptAt = now();
        consecutiveFailures = 0;
        if (held?.text !== next.text) generation += 1;
        held = next;
        emit({ type: 'fetched', uri: describeUri(), keys: next.kids.size });
        return next;
      })
      .catch((error: unknown) => {
        lastAttemptAt = now();
        consecutiveFailures += 1;
        stats.failures += 1;
        emit({ type: 'fetch_failed', uri: describeUri(), error: describeError(error) });
        // Said once per failed refresh, not once per request: the log of an outage stays readable.
        if (held && !isFresh(held) && isUsableStale(held)) {
          emit({ type: 'stale_used', uri: describeUri(), ageMs: now() - held.fetchedAt });
        }
        throw error;
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  }

  function isFresh(set: Held): boolean {
    return now() - set.fetchedAt < maxAgeMs;
  }

  function isUsableStale(set: Held): boolean {
    return now() - set.fetchedAt < maxAgeMs + staleIfErrorMs;
  }

  /** Past the maximum age, one refresh in the background, unless one runs or the issuer failed a moment ago. */
  function revalidate(set: Held): void {
    if (isFresh(set) || inflight || (consecutiveFailures > 0 && now() < nextAttemptAt())) return;
    fetchShared().catch(() => undefined); // the failure is counted and logged; the held set stays in use meanwhile
  }

  /** The held set if it may be used now; past its maximum age it is refreshed in the background meanwhile. */
  function usableHeld(): Held | undefined {
    if (!held) return undefined;
    if (isFresh(held)) return held;
    if (!isUsableStale(held)) return undefined;
    revalidate(held);
    if (consecutiveFailures > 0) stats.staleUses += 1;
    return held;
  }

  /**
   * A set that may be used now. Only when none is held (or the one held is past stale-if-error) does the caller
   * wait, for a shared fetch that ends at the timeout; while the issuer is backing off it is refused at once.
   */
  async function current(): Promise<Held> {
    const usable = usableHeld();
    if (usable) return usable;
    if (!inflight && consecutiveFailures > 0 && now() < nextAttemptAt()) throw unavailable();
    try {
      return await fetchShared();
    } catch (error) {
      throw unavailable(error);
    }
  }

  async function getKey(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> {
    if (typeof header.kid !== 'string' || header.kid.length === 0) throw new AuthRefusal('unknown_kid');
    const set = await current();
    try {
      const key = await set.resolve(header, token);
      stats.cacheHits += 1;
      return key;
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSNoMatchingKey)) throw error;
    }
    // An unknown kid may mean the issuer rotated: one refetch, then a cooldown shared by every kid, so that a flood
    // of random kids costs the issuer at most one request per window.
    // While the issuer is failing, the kid may be one it has just rotated in: the client is told to try again (503),
    // not that its token is bad. Only a set fetched a moment ago can say a kid is unknown.
    if (inflight === undefined && now() < nextAttemptAt()) {
      if (consecutiveFailures > 0) throw unavailable();
      stats.cooldownRefusals += 1;
      throw new AuthRefusal('unknown_kid');
    }
    let refreshed: Held;
    try {
      refreshed = await fetchShared();
    } catch (error) {
      throw unavailable(error);
    }
    try {
      return await refreshed.resolve(header, token);
    } catch (error) {
      if (error instanceof joseErrors.JWKSNoMatchingKey) throw new AuthRefusal('unknown_kid');
      throw error;
    }
  }

  return {
    getKey,
    async refresh() {
      await fetchShared();
    },
    usable: () => usableHeld() !== undefined,
    generation: () => generation,
    refusesWithoutFetch(kid) {
      if (
        !held ||
        !isFresh(held) ||
        held.kids.has(kid) ||
        inflight !== undefined ||
        consecutiveFailures > 0 ||
        now() >= nextAttemptAt()
      ) {
        return false;
      }
      stats.cooldownRefusals += 1;
      return true;
    },
    status() {
      return {
        ready: held !== undefined && isUsableStale(held),
        fetchedAt: held?.fetchedAt,
        stale: held !== undefined && !isFresh(held),
        generation,
      };
    },
    stats,
  };
}

function parseJwks(body: unknown): JSONWebKeySet {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { keys?: unknown }).keys)) {
    throw new Error('JWKS response is not a {"keys": [...]} object');
  }
  const keys = (body as { keys: unknown[] }).keys.filter(
    (key): key is JSONWebKeySet['keys'][number] => typeof key === 'object' && key !== null && !Array.isArray(key),
  );
  return { keys };
}

/** The message and its cause's (fetch's own message, "fetch failed", says nothing of why). */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message;
}
