import { defaults } from './defaults.js';
import { describeError, type JwksFetcher } from './jwks-fetcher.js';
import type { Held } from './jwks.js';
import { Refused } from './refusals.js';

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

/**
 * Whether the held set may be used now: `fresh` (within its maximum age), `stale` (past it, within stale-if-error:
 * usable while a refresh is due) or `unusable` (none held, or past stale-if-error).
 */
export type KeySetState = 'fresh' | 'stale' | 'unusable';

export type KeySetEvent =
  /** `keys`: how many keys with a `kid` the set holds (a token must name one). */
  | { readonly type: 'fetched'; readonly uri: string; readonly keys: number }
  | { readonly type: 'fetch_failed'; readonly uri: string; readonly error: string }
  | { readonly type: 'stale_used'; readonly uri: string; readonly ageMs: number };

export interface KeySetTimings {
  readonly maxAgeMs: number;
  readonly cooldownMs: number;
  readonly staleIfErrorMs: number;
}

/**
 * What a remote key set knows. The functions of this file that ask about it change nothing; only `reload` (the one
 * command that does work) installs a set or records a failure, as jose's remote JWK set answers `fresh` and
 * `coolingDown` from state and changes it only in `reload()` (src/jwks/remote.ts).
 */
export interface KeySetMemory {
  readonly timings: KeySetTimings;
  readonly now: () => number;
  readonly stats: KeySetStats;
  held: Held | undefined;
  generation: number;
  inflight: Promise<Held> | undefined;
  /** When the last fetch ended: cooldown and backoff count from there, not from its start. */
  lastAttemptAt: number;
  consecutiveFailures: number;
}

export function newStats(): KeySetStats {
  return { fetches: 0, failures: 0, cacheHits: 0, cooldownRefusals: 0, staleUses: 0 };
}

export function createKeySetMemory(timings: KeySetTimings, now: () => number): KeySetMemory {
  return {
    timings,
    now,
    stats: newStats(),
    held: undefined,
    generation: 0,
    inflight: undefined,
    lastAttemptAt: Number.NEGATIVE_INFINITY,
    consecutiveFailures: 0,
  };
}

export function isFresh(memory: KeySetMemory, set: Held): boolean {
  return memory.now() - set.fetchedAt < memory.timings.maxAgeMs;
}

export function isUsableStale(memory: KeySetMemory, set: Held): boolean {
  return memory.now() - set.fetchedAt < memory.timings.maxAgeMs + memory.timings.staleIfErrorMs;
}

export function stateOf(memory: KeySetMemory): KeySetState {
  const { held } = memory;
  if (!held) return 'unusable';
  if (isFresh(memory, held)) return 'fresh';
  return isUsableStale(memory, held) ? 'stale' : 'unusable';
}

/** The cooldown after a fetch, or the backoff (doubling from `firstBackoffMs`, capped by it) after failures. */
export function nextAttemptAt({ consecutiveFailures, lastAttemptAt, timings }: KeySetMemory): number {
  if (consecutiveFailures === 0) return lastAttemptAt + timings.cooldownMs;
  return lastAttemptAt + Math.min(timings.cooldownMs, defaults.keySet.firstBackoffMs * 2 ** (consecutiveFailures - 1));
}

/** No fetch may start now (one is not already running to join). */
export function backingOff(memory: KeySetMemory): boolean {
  return memory.inflight === undefined && memory.now() < nextAttemptAt(memory);
}

/** No keys can be had now: 503, with the seconds until the next attempt as `Retry-After`. */
export function unavailable(memory: KeySetMemory): Refused {
  const seconds = Math.max(1, Math.ceil((nextAttemptAt(memory) - memory.now()) / 1000));
  return new Refused('keys_unavailable', seconds);
}

/** The current set lacks `kid` and the cooldown is on: a fetch now could not be made, so the kid is refused. */
export function refusesWithoutFetch(memory: KeySetMemory, kid: string): boolean {
  const { held } = memory;
  if (held === undefined || !isFresh(memory, held) || held.kids.has(kid)) return false;
  return memory.inflight === undefined && memory.consecutiveFailures === 0 && memory.now() < nextAttemptAt(memory);
}

export function statusOf(memory: KeySetMemory): KeySetStatus {
  const { held } = memory;
  return {
    ready: held !== undefined && isUsableStale(memory, held),
    fetchedAt: held?.fetchedAt,
    stale: held !== undefined && !isFresh(memory, held),
    generation: memory.generation,
  };
}

/** The command: one fetch at a time, whoever asks; every caller gets its outcome, and the memory records it. */
export function reload(memory: KeySetMemory, fetcher: JwksFetcher, emit: (event: KeySetEvent) => void): Promise<Held> {
  if (memory.inflight) return memory.inflight;
  memory.stats.fetches += 1;
  memory.inflight = fetcher
    .fetch()
    .then((next) => {
      installed(memory, next);
      emit({ type: 'fetched', uri: fetcher.describeUri(), keys: next.kids.size });
      return next;
    })
    .catch((error: unknown) => {
      failed(memory);
      emit({ type: 'fetch_failed', uri: fetcher.describeUri(), error: describeError(error) });
      // Said once per failed refresh, not once per request: the log of an outage stays readable.
      const { held } = memory;
      if (held && !isFresh(memory, held) && isUsableStale(memory, held)) {
        emit({ type: 'stale_used', uri: fetcher.describeUri(), ageMs: memory.now() - held.fetchedAt });
      }
      throw error;
    })
    .finally(() => {
      memory.inflight = undefined;
    });
  return memory.inflight;
}

function installed(memory: KeySetMemory, next: Held): void {
  memory.lastAttemptAt = memory.now();
  memory.consecutiveFailures = 0;
  if (memory.held?.text !== next.text) memory.generation += 1;
  memory.held = next;
}

function failed(memory: KeySetMemory): void {
  memory.lastAttemptAt = memory.now();
  memory.consecutiveFailures += 1;
  memory.stats.failures += 1;
}
