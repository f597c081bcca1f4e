import { createLocalJWKSet, errors as joseErrors } from 'jose';
import type { CryptoKey, FlattenedJWSInput, JSONWebKeySet, JWSHeaderParameters } from 'jose';
import { defaults } from './defaults.js';
import { fetchJson, type Fetch } from './fetch-json.js';
import { Refused, refused } from './refusals.js';

export interface FetchLimits {
  /** Discovery and the fetch together, headers and body, must finish within this (not a per-socket idle timeout). */
  readonly timeoutMs: number;
  /** A larger body is refused without being read to the end. */
  readonly maxBytes: number;
}

/** How an issuer's remote key set is fetched and trusted; every number has its default in defaults.ts. */
export interface KeySetOptions extends Partial<FetchLimits> {
  /** After this long a fetched set is no longer trusted as current, so a key the issuer removed stops working. */
  readonly maxAgeMs?: number;
  /** After a fetch, an unknown `kid` is refused without fetching again for this long (flood protection). */
  readonly cooldownMs?: number;
  /** When a refresh fails, the last good set is still used for this long past its maximum age. */
  readonly staleIfErrorMs?: number;
}

export interface RemoteKeySetOptions extends KeySetOptions {
  /**
   * Where the JWKS is, or a function that finds out (OIDC discovery) within the fetch's own deadline. Never a value
   * taken from a token.
   */
  readonly jwksUri: string | ((signal: AbortSignal, fetch: Fetch) => Promise<string>);
  /** The `fetch` to use (jose's `customFetch`): the global one by default. */
  readonly fetch?: Fetch;
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

/** What a key set says of itself to a caller outside the verifier (readiness, metrics). */
export interface KeySetView {
  status(): KeySetStatus;
  readonly stats: Readonly<KeySetStats>;
}

/**
 * Whether the held set may be used now: `fresh` (within its maximum age), `stale` (past it, within stale-if-error:
 * usable while a refresh is due) or `unusable` (none held, or past stale-if-error).
 */
export type KeySetState = 'fresh' | 'stale' | 'unusable';

/**
 * An issuer's keys. Its questions (`state`, `refusesWithoutFetch`, `generation`, `status`) start no work and count
 * nothing; work is asked for by name (`refresh`, `revalidate`, `select`), and the verifier decides when, as jose's
 * remote JWK set separates `fresh`/`coolingDown` from `reload()`.
 */
export interface KeySet extends KeySetView {
  /**
   * The key for a token's header (jose's `createLocalJWKSet` selection: kid, alg → kty, use, key_ops), or a
   * refusal. Fetches when no usable set is held, and once for an unknown kid outside the cooldown.
   */
  select(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey | Refused>;
  /** Fetch now (startup warm-up). Rejects when the fetch fails. */
  refresh(): Promise<void>;
  state(): KeySetState;
  /**
   * For a stale set: start one refresh in the background (stale-while-revalidate, RFC 5861 §3) unless one runs or the
   * issuer failed a moment ago, so that no request waits for it; while refreshes fail, count the stale use.
   */
  revalidate(): void;
  /**
   * True when `kid` would certainly be refused without a fetch: the current set lacks it and the cooldown is on.
   * Lets a flood of random kids be refused before any parsing or signature work.
   */
  refusesWithoutFetch(kid: string): boolean;
  /** Counts a token refused because `refusesWithoutFetch` said so. */
  countCooldownRefusal(): void;
  /** Increases every time a different set is installed. */
  generation(): number;
}

/**
 * The issuer's key set: fetched, cached for a bounded time, refetched once for an unknown `kid` and then held in a
 * cooldown, shared between concurrent callers, and kept usable through a short outage of the issuer.
 * Key selection itself (kid, alg → kty, use, key_ops) is jose's `createLocalJWKSet`.
 */
export function createKeySet(options: RemoteKeySetOptions): KeySet {
  const maxAgeMs = options.maxAgeMs ?? defaults.keySet.maxAgeMs;
  const cooldownMs = options.cooldownMs ?? defaults.keySet.cooldownMs;
  const staleIfErrorMs = options.staleIfErrorMs ?? defaults.keySet.staleIfErrorMs;
  const limits: FetchLimits = {
    timeoutMs: options.timeoutMs ?? defaults.keySet.timeoutMs,
    maxBytes: options.maxBytes ?? defaults.keySet.maxBytes,
  };
  const fetchImpl: Fetch = options.fetch ?? fetch;
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
    return lastAttemptAt + Math.min(cooldownMs, defaults.keySet.firstBackoffMs * 2 ** (consecutiveFailures - 1));
  }

  function backingOff(): boolean {
    return inflight === undefined && now() < nextAttemptAt();
  }

  function unavailable(): Refused {
    const seconds = Math.max(1, Math.ceil((nextAttemptAt() - now()) / 1000));
    return new Refused('keys_unavailable', seconds);
  }

  async function load(): Promise<Held> {
    // One deadline for discovery and the fetch together: nobody waits longer than the timeout for a key.
    const signal = AbortSignal.timeout(limits.timeoutMs);
    resolvedUri ??= typeof options.jwksUri === 'string' ? options.jwksUri : await options.jwksUri(signal, fetchImpl);
    const body = await fetchJson(resolvedUri, limits.maxBytes, signal, fetchImpl);
    return toHeld(parseJwks(body), now());
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

  function state(): KeySetState {
    if (!held) return 'unusable';
    if (isFresh(held)) return 'fresh';
    return isUsableStale(held) ? 'stale' : 'unusable';
  }

  function revalidate(): void {
    if (!held || isFresh(held)) return;
    if (consecutiveFailures > 0) stats.staleUses += 1;
    if (inflight || (consecutiveFailures > 0 && now() < nextAttemptAt())) return;
    fetchShared().catch(() => undefined); // the failure is counted and logged; the held set stays in use meanwhile
  }

  /**
   * A set that may be used now. Only when none is held (or the one held is past stale-if-error) does the caller
   * wait, for a shared fetch that ends at the timeout; while the issuer is backing off it is refused at once.
   */
  async function current(): Promise<Held | Refused> {
    const usable = state();
    if (usable !== 'unusable' && held) {
      if (usable === 'stale') revalidate();
      return held;
    }
    if (consecutiveFailures > 0 && backingOff()) return unavailable();
    try {
      return await fetchShared();
    } catch {
      return unavailable();
    }
  }

  async function select(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey | Refused> {
    if (typeof header.kid !== 'string' || header.kid.length === 0) return refused('unknown_kid');
    const set = await current();
    if (set instanceof Refused) return set;
    const key = await resolveIn(set, header, token);
    if (key !== undefined) {
      stats.cacheHits += 1;
      return key;
    }
    // An unknown kid may mean the issuer rotated: one refetch, then a cooldown shared by every kid, so that a flood
    // of random kids costs the issuer at most one request per window.
    // While the issuer is failing, the kid may be one it has just rotated in: the client is told to try again (503),
    // not that its token is bad. Only a set fetched a moment ago can say a kid is unknown.
    if (backingOff()) {
      if (consecutiveFailures > 0) return unavailable();
      stats.cooldownRefusals += 1;
      return refused('unknown_kid');
    }
    let refreshed: Held;
    try {
      refreshed = await fetchShared();
    } catch {
      return unavailable();
    }
    return (await resolveIn(refreshed, header, token)) ?? refused('unknown_kid');
  }

  return {
    select,
    async refresh() {
      await fetchShared();
    },
    state,
    revalidate,
    generation: () => generation,
    refusesWithoutFetch(kid) {
      return (
        held !== undefined &&
        isFresh(held) &&
        !held.kids.has(kid) &&
        inflight === undefined &&
        consecutiveFailures === 0 &&
        now() < nextAttemptAt()
      );
    },
    countCooldownRefusal() {
      stats.cooldownRefusals += 1;
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

/**
 * Keys given up front (an issuer's `jwks`), for offline use and tests: never fetched, never stale, and an unknown
 * kid is refused at once, since no fetch could ever add it.
 */
export function createStaticKeySet(jwks: JSONWebKeySet, now: () => number = Date.now): KeySet {
  const held = toHeld(parseJwks(jwks), now());
  const stats: KeySetStats = { fetches: 0, failures: 0, cacheHits: 0, cooldownRefusals: 0, staleUses: 0 };
  const status: KeySetStatus = { ready: true, fetchedAt: held.fetchedAt, stale: false, generation: 1 };
  return {
    async select(header, token) {
      if (typeof header.kid !== 'string' || header.kid.length === 0) return refused('unknown_kid');
      const key = await resolveIn(held, header, token);
      if (key === undefined) return refused('unknown_kid');
      stats.cacheHits += 1;
      return key;
    },
    refresh: () => Promise.resolve(),
    state: () => 'fresh',
    revalidate: () => undefined,
    generation: () => 1,
    refusesWithoutFetch: (kid) => !held.kids.has(kid),
    countCooldownRefusal() {
      stats.cooldownRefusals += 1;
    },
    status: () => status,
    stats,
  };
}

interface Held {
  readonly text: string;
  readonly kids: ReadonlySet<string>;
  readonly resolve: ReturnType<typeof createLocalJWKSet>;
  readonly fetchedAt: number;
}

function toHeld(jwks: JSONWebKeySet, fetchedAt: number): Held {
  const kids = new Set(jwks.keys.map((key) => key.kid).filter((kid): kid is string => typeof kid === 'string'));
  return { text: JSON.stringify(jwks), kids, resolve: createLocalJWKSet(jwks), fetchedAt };
}

/** jose's selection in `set`; `undefined` when no key matches (any other failure of jose's is thrown). */
async function resolveIn(
  set: Held,
  header: JWSHeaderParameters,
  token: FlattenedJWSInput,
): Promise<CryptoKey | undefined> {
  try {
    return await set.resolve(header, token);
  } catch (error) {
    if (error instanceof joseErrors.JWKSNoMatchingKey) return undefined;
    throw error;
  }
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
