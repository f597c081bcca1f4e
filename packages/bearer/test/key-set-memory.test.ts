import assert from 'node:assert/strict';
import { afterEach, before, beforeEach, describe, it } from 'node:test';
import type { JwksFetcher } from '../src/jwks-fetcher.js';
import { toHeld, type Held } from '../src/jwks.js';
import {
  createKeySetMemory,
  refusesWithoutFetch,
  reload,
  stateOf,
  statusOf,
  type KeySetEvent,
  type KeySetMemory,
} from '../src/key-set-memory.js';
import type { KeySetEvent as VerifierKeySetEvent } from '../src/key-set.js';
import { createVerifier } from '../src/verifier.js';
import { outcome } from './support/outcome.js';
import { cognito } from '../src/issuers.js';
import {
  cognitoAccessClaims,
  createTestClock,
  createTestKey,
  startTestIssuer,
  type TestClock,
  type TestIssuer,
  type TestKey,
} from '@product-service/bearer-testing';

// The key set's memory alone, against a fetcher the test controls (aws-jwt-verify tests its cache against a fake
// fetcher the same way, tests/unit/jwk.test.ts): its questions change nothing, and `reload` is the only command that
// does, one fetch at a time.
describe('the key set memory', () => {
  const timings = { maxAgeMs: 600_000, cooldownMs: 30_000, staleIfErrorMs: 300_000 };
  let clock: TestClock;
  let memory: KeySetMemory;
  let key: TestKey;
  /** The fetcher's pending answers, settled by the test. */
  let pending: { resolve: (held: Held) => void; reject: (error: Error) => void }[];
  let events: KeySetEvent[];

  const fetcher: JwksFetcher = {
    fetch: () => new Promise<Held>((resolve, reject) => pending.push({ resolve, reject })),
    describeUri: () => 'https://issuer.example/jwks.json',
  };
  const command = () => reload(memory, fetcher, (event) => events.push(event));

  before(async () => {
    key = await createTestKey();
  });
  beforeEach(() => {
    clock = createTestClock();
    memory = createKeySetMemory(timings, clock.now);
    pending = [];
    events = [];
  });

  /** Every field of the memory, to compare before and after a question. */
  const snapshot = () => ({ ...memory, stats: { ...memory.stats } });

  it('answers its questions without changing anything, held or not, fresh or stale', async () => {
    const ask = () => [stateOf(memory), refusesWithoutFetch(memory, 'other'), statusOf(memory)];
    const empty = snapshot();
    assert.deepEqual(ask()[0], 'unusable');
    assert.deepEqual(snapshot(), empty, 'nothing held: asking changed nothing');
    assert.equal(pending.length, 0, 'and started no fetch');
    const loaded = command();
    pending[0]?.resolve(toHeld({ keys: [key.publicJwk] }, clock.now()));
    await loaded;
    for (const advance of [0, timings.maxAgeMs + 1, timings.staleIfErrorMs]) {
      clock.advance(advance);
      const earlier = snapshot();
      ask();
      assert.deepEqual(snapshot(), earlier, `after ${advance} ms: asking changed nothing`);
    }
    assert.equal(pending.length, 1, 'only the command fetched');
    // The control: the snapshot does see a change, when a command makes one.
    const earlier = snapshot();
    void command().catch(() => undefined);
    assert.notDeepEqual(snapshot(), earlier, 'reload() is seen to change the memory');
    pending[1]?.reject(new Error('done'));
  });

  it('reload shares one fetch between callers, and records its success and its failure', async () => {
    const [first, second] = [command(), command()];
    assert.equal(pending.length, 1, 'one fetch for two callers');
    pending[0]?.resolve(toHeld({ keys: [key.publicJwk] }, clock.now()));
    assert.equal(await first, await second);
    assert.deepEqual({ state: stateOf(memory), generation: memory.generation }, { state: 'fresh', generation: 1 });
    clock.advance(timings.maxAgeMs + 1);
    const failing = command();
    pending[1]?.reject(new Error('issuer down'));
    await assert.rejects(failing, /issuer down/);
    assert.equal(memory.consecutiveFailures, 1);
    assert.deepEqual(
      events.map((e) => e.type),
      ['fetched', 'fetch_failed', 'stale_used'],
    );
    assert.equal(stateOf(memory), 'stale', 'the last good set is kept');
  });

  it('a refresh that brings the same set keeps the generation (the verified-token cache stays valid)', async () => {
    const first = command();
    pending[0]?.resolve(toHeld({ keys: [key.publicJwk] }, clock.now()));
    await first;
    const again = command();
    pending[1]?.resolve(toHeld({ keys: [key.publicJwk] }, clock.now()));
    await again;
    assert.equal(memory.generation, 1);
  });
});

// `usable()` once asked and acted in one breath: it started refreshes and counted stale uses, and was asked up to
// twice per request, so `staleUses` counted calls. Now the verifier asks pure questions and gives the key set one
// command per request (`revalidate`, or `select`, which revalidates itself): the counter counts requests.
describe('a stale key set during an outage', () => {
  let jwks: TestIssuer;
  let keyA: TestKey;
  let keyB: TestKey;
  let clock: TestClock;

  beforeEach(async () => {
    [keyA, keyB] = [await createTestKey(), await createTestKey()];
    jwks = await startTestIssuer({ keys: [keyA, keyB] });
    clock = createTestClock();
  });
  afterEach(() => jwks.close());

  const sign = (k: TestKey, jti: string) =>
    jwks.sign(
      k,
      cognitoAccessClaims(jwks.issuer, {
        jti,
        iat: Math.floor(clock.now() / 1000),
        exp: Math.floor(clock.now() / 1000) + 7200,
      }),
    );

  it('counts one stale use per request, whichever path the request takes', async () => {
    let failed: () => void = () => undefined;
    const refreshFailed = new Promise<void>((resolve) => (failed = resolve));
    const verifier = createVerifier({
      issuers: [cognito(jwks.cognitoProfile())],
      now: clock.now,
      onKeySetEvent: (_issuer, event: VerifierKeySetEvent) => {
        if (event.type === 'fetch_failed') failed();
      },
    });
    await verifier.warmUp();
    const remembered = await sign(keyA, 'a1');
    assert.equal(await outcome(verifier, remembered), 'accepted', 'remembered, and key A selected');
    const [knownKey, newKid] = [await sign(keyA, 'a2'), await sign(keyB, 'b1')];
    await jwks.setMode('down');
    clock.advance(11 * 60_000); // past the maximum age, within stale-if-error
    assert.equal(await outcome(verifier, remembered), 'accepted', 'starts the refresh, which fails');
    await refreshFailed;
    const stats = verifier.issuers[0]?.keySet.stats;
    assert.equal(stats?.staleUses, 0, 'no failure yet when that request was answered');
    assert.equal(await outcome(verifier, remembered), 'accepted');
    assert.equal(stats.staleUses, 1, 'a remembered token: one');
    assert.equal(await outcome(verifier, knownKey), 'accepted');
    assert.equal(stats.staleUses, 2, 'a new token whose key was selected before: one');
    assert.equal(await outcome(verifier, newKid), 'accepted');
    assert.equal(stats.staleUses, 3, 'a new token whose kid is selected now: one (it was two)');
    assert.equal(jwks.requests.jwks, 2, 'the warm-up and the one failed refresh: the backoff holds');
  });
});
