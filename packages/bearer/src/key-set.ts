import type { CryptoKey, FlattenedJWSInput, JSONWebKeySet, JWSHeaderParameters } from 'jose';
import { defaults } from './defaults.js';
import type { Fetch } from './fetch-json.js';
import { createJwksFetcher, type FetchLimits, type JwksFetcher, type JwksLocation } from './jwks-fetcher.js';
import { resolveIn, parseJwks, toHeld, type Held } from './jwks.js';
import {
  backingOff,
  createKeySetMemory,
  isFresh,
  newStats,
  refusesWithoutFetch,
  reload,
  stateOf,
  statusOf,
  unavailable,
  type KeySetEvent,
  type KeySetMemory,
  type KeySetState,
  type KeySetStats,
  type KeySetStatus,
} from './key-set-memory.js';
import { Refused, refused } from './refusals.js';

export type { FetchLimits } from './jwks-fetcher.js';
export type { KeySetEvent, KeySetState, KeySetStats, KeySetStatus } from './key-set-memory.js';

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
  readonly jwksUri: JwksLocation;
  /** The `fetch` to use (jose's `customFetch`): the global one by default. */
  readonly fetch?: Fetch;
  readonly now?: () => number;
  readonly onEvent?: (event: KeySetEvent) => void;
}

/** What a key set says of itself to a caller outside the verifier (readiness, metrics). */
export interface KeySetView {
  status(): KeySetStatus;
  readonly stats: Readonly<KeySetStats>;
}

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

/** A remote key set's parts: what it knows, and its one way of learning more (a shared, recorded fetch). */
interface RemoteKeys {
  readonly memory: KeySetMemory;
  readonly reload: () => Promise<Held>;
}

/**
 * The issuer's key set: fetched, cached for a bounded time, refetched once for an unknown `kid` and then held in a
 * cooldown, shared between concurrent callers, and kept usable through a short outage of the issuer.
 * Key selection itself (kid, alg → kty, use, key_ops) is jose's `createLocalJWKSet`. Three parts, as aws-jwt-verify
 * keeps its fetcher, penalty box and cache apart (src/jwk.ts): the fetcher (jwks-fetcher.ts), the memory with its
 * questions and its one command `reload` (key-set-memory.ts), and the selection below.
 */
export function createKeySet(options: RemoteKeySetOptions): KeySet {
  const now = options.now ?? Date.now;
  const memory = createKeySetMemory(
    {
      maxAgeMs: options.maxAgeMs ?? defaults.keySet.maxAgeMs,
      cooldownMs: options.cooldownMs ?? defaults.keySet.cooldownMs,
      staleIfErrorMs: options.staleIfErrorMs ?? defaults.keySet.staleIfErrorMs,
    },
    now,
  );
  const limits: FetchLimits = {
    timeoutMs: options.timeoutMs ?? defaults.keySet.timeoutMs,
    maxBytes: options.maxBytes ?? defaults.keySet.maxBytes,
  };
  const fetcher: JwksFetcher = createJwksFetcher(options.jwksUri, limits, options.fetch ?? fetch, now);
  const emit = options.onEvent ?? (() => undefined);
  const keys: RemoteKeys = { memory, reload: () => reload(memory, fetcher, emit) };
  return {
    select: (header, token) => select(keys, header, token),
    async refresh() {
      await keys.reload();
    },
    state: () => stateOf(memory),
    revalidate: () => revalidate(keys),
    generation: () => memory.generation,
    refusesWithoutFetch: (kid) => refusesWithoutFetch(memory, kid),
    countCooldownRefusal() {
      memory.stats.cooldownRefusals += 1;
    },
    status: () => statusOf(memory),
    stats: memory.stats,
  };
}

/** Starts a refresh of a stale set unless one runs or the issuer is backing off; counts the stale use meanwhile. */
function revalidate({ memory, reload: reloadKeys }: RemoteKeys): void {
  if (!memory.held || isFresh(memory, memory.held)) return;
  if (memory.consecutiveFailures > 0) memory.stats.staleUses += 1;
  if (memory.inflight || (memory.consecutiveFailures > 0 && backingOff(memory))) return;
  reloadKeys().catch(() => undefined); // the failure is counted and logged; the held set stays in use meanwhile
}

/**
 * A set that may be used now. Only when none is held (or the one held is past stale-if-error) does the caller
 * wait, for a shared fetch that ends at the timeout; while the issuer is backing off it is refused at once.
 */
async function current(keys: RemoteKeys): Promise<Held | Refused> {
  const { memory } = keys;
  const state = stateOf(memory);
  if (state !== 'unusable' && memory.held) {
    if (state === 'stale') revalidate(keys);
    return memory.held;
  }
  if (memory.consecutiveFailures > 0 && backingOff(memory)) return unavailable(memory);
  try {
    return await keys.reload();
  } catch {
    return unavailable(memory);
  }
}

async function select(
  keys: RemoteKeys,
  header: JWSHeaderParameters,
  token: FlattenedJWSInput,
): Promise<CryptoKey | Refused> {
  if (typeof header.kid !== 'string' || header.kid.length === 0) return refused('unknown_kid');
  const set = await current(keys);
  if (set instanceof Refused) return set;
  const key = await resolveIn(set, header, token);
  if (key !== undefined) {
    keys.memory.stats.cacheHits += 1;
    return key;
  }
  return selectAfterRefetch(keys, header, token);
}

/**
 * An unknown kid may mean the issuer rotated: one refetch, then a cooldown shared by every kid, so that a flood of
 * random kids costs the issuer at most one request per window.
 */
async function selectAfterRefetch(
  { memory, reload: reloadKeys }: RemoteKeys,
  header: JWSHeaderParameters,
  token: FlattenedJWSInput,
): Promise<CryptoKey | Refused> {
  // While the issuer is failing, the kid may be one it has just rotated in: the client is told to try again (503),
  // not that its token is bad. Only a set fetched a moment ago can say a kid is unknown.
  if (backingOff(memory)) {
    if (memory.consecutiveFailures > 0) return unavailable(memory);
    memory.stats.cooldownRefusals += 1;
    return refused('unknown_kid');
  }
  let refreshed: Held;
  try {
    refreshed = await reloadKeys();
  } catch {
    return unavailable(memory);
  }
  return (await resolveIn(refreshed, header, token)) ?? refused('unknown_kid');
}

/**
 * Keys given up front (an issuer's `jwks`), for offline use and tests: never fetched, never stale, and an unknown
 * kid is refused at once, since no fetch could ever add it.
 */
export function createStaticKeySet(jwks: JSONWebKeySet, now: () => number = Date.now): KeySet {
  const held = toHeld(parseJwks(jwks), now());
  const stats = newStats();
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
