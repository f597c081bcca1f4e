import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, before, beforeEach, describe, it } from 'node:test';
import { createKeySet, type KeySetEvent } from '../src/key-set.js';
import { createVerifier, type Verifier } from '../src/verifier.js';
import { outcome } from './support/outcome.js';
import { cognito } from '../src/issuers.js';
import {
  cognitoAccessClaims,
  createTestClock,
  createTestKey,
  startTestIssuer,
  type TestIssuer,
  type TestClock,
  type TestKey,
} from '@product-service/bearer-testing';

// Against a real local HTTP JWKS server that the test controls, with a clock the test moves.
describe('the key set', () => {
  let jwks: TestIssuer;
  let key: TestKey;
  let clock: TestClock;
  let events: KeySetEvent[];
  let waiters: { type: KeySetEvent['type']; resolve: () => void }[];

  before(async () => {
    key = await createTestKey();
  });
  beforeEach(async () => {
    jwks = await startTestIssuer({ keys: [key] });
    clock = createTestClock();
    events = [];
    waiters = [];
  });
  afterEach(() => jwks.close());

  function verifierFor(keySet: Record<string, number> = {}): Verifier {
    return createVerifier({
      issuers: [{ ...cognito(jwks.cognitoProfile()), keySet }],
      tokenCache: false,
      now: clock.now,
      onKeySetEvent: (_issuer, event) => {
        events.push(event);
        for (const waiter of waiters.filter((w) => w.type === event.type)) waiter.resolve();
        waiters = waiters.filter((w) => w.type !== event.type);
      },
    });
  }

  /** Resolves at the key set's next event of this type: a background refresh ending, say. */
  const next = (type: KeySetEvent['type']) => new Promise<void>((resolve) => waiters.push({ type, resolve }));

  const sign = (k: TestKey) =>
    jwks.sign(
      k,
      cognitoAccessClaims(jwks.issuer, {
        iat: Math.floor(clock.now() / 1000),
        exp: Math.floor(clock.now() / 1000) + 7200,
      }),
    );

  it('is filled at startup, so the first request does not fetch, and readiness says so', async () => {
    const verifier = verifierFor();
    assert.equal(verifier.ready(), false);
    await verifier.warmUp();
    assert.equal(verifier.ready(), true);
    assert.equal(jwks.requests.jwks, 1);
    assert.equal(await outcome(verifier, await sign(key)), 'accepted');
    assert.equal(jwks.requests.jwks, 1);
    assert.equal(verifier.issuers[0]?.keySet.stats.cacheHits, 1);
  });

  it('picks up a rotated-in key without a restart: one refetch for the new kid', async () => {
    const verifier = verifierFor();
    await verifier.warmUp();
    clock.advance(31_000); // past the cooldown that follows the warm-up fetch
    const next = await createTestKey();
    jwks.publish([key, next]);
    assert.equal(await outcome(verifier, await sign(next)), 'accepted');
    assert.equal(jwks.requests.jwks, 2);
    assert.equal(await outcome(verifier, await sign(key)), 'accepted');
    assert.equal(jwks.requests.jwks, 2);
  });

  it('stops trusting a removed key once the set is past its maximum age (10 min by default)', async () => {
    const verifier = verifierFor();
    await verifier.warmUp();
    const token = await sign(key);
    const nextKey = await createTestKey();
    jwks.publish([nextKey]); // the issuer drops `key`
    clock.advance(9 * 60_000);
    assert.equal(await outcome(verifier, token), 'accepted', 'still within the maximum age');
    clock.advance(2 * 60_000);
    const refreshed = next('fetched');
    // Past the maximum age the held set answers at once while one refresh runs (stale-while-revalidate)...
    assert.equal(await outcome(verifier, token), 'accepted');
    await refreshed;
    // ...and once the refresh is in, the removed key admits nothing.
    assert.equal(await outcome(verifier, token), 'unknown_kid');
    assert.equal(await outcome(verifier, await sign(nextKey)), 'accepted');
  });

  it('answers a flood of random kids with at most one fetch per 30 s cooldown', async () => {
    const verifier = verifierFor();
    await verifier.warmUp();
    clock.advance(31_000);
    const forged = await Promise.all(Array.from({ length: 50 }, () => createTestKey('RS256', randomUUID())));
    const tokens = await Promise.all(forged.map((k) => sign(k)));
    const outcomes = await Promise.all(tokens.map((t) => outcome(verifier, t)));
    assert.ok(outcomes.every((o) => o === 'unknown_kid'));
    assert.equal(jwks.requests.jwks, 2, 'the warm-up fetch and one refetch');
    for (const t of tokens.slice(0, 10)) await outcome(verifier, t);
    assert.equal(jwks.requests.jwks, 2);
    assert.ok((verifier.issuers[0]?.keySet.stats.cooldownRefusals ?? 0) >= 10);
    // Legitimate tokens are unaffected during the flood.
    assert.equal(await outcome(verifier, await sign(key)), 'accepted');
    clock.advance(31_000);
    await outcome(verifier, tokens[0] ?? '');
    assert.equal(jwks.requests.jwks, 3, 'one more fetch in the next window');
  });

  it('shares one fetch between concurrent first requests', async () => {
    const verifier = verifierFor();
    jwks.delay(50);
    const token = await sign(key);
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => outcome(verifier, token)));
    assert.deepEqual(new Set(outcomes), new Set(['accepted']));
    assert.equal(jwks.requests.jwks, 1);
  });

  it('keeps accepting with the last good set while the issuer is down, for a bounded time, and logs it', async () => {
    const verifier = verifierFor();
    await verifier.warmUp();
    const token = await sign(key);
    await jwks.setMode('down');
    clock.advance(11 * 60_000); // past the maximum age: a refresh is due and fails
    const failed = next('fetch_failed');
    assert.equal(await outcome(verifier, token), 'accepted');
    await failed;
    assert.ok(
      events.some((e) => e.type === 'stale_used'),
      'the stale use is logged once the refresh failed',
    );
    assert.equal(await outcome(verifier, token), 'accepted');
    assert.equal(verifier.issuers[0]?.keySet.status().stale, true);
    assert.equal(verifier.ready(), true);
    clock.advance(60 * 60_000); // past the stale-if-error window (1 h)
    assert.equal(await outcome(verifier, token), 'keys_unavailable');
    assert.equal(verifier.ready(), false);
    await jwks.setMode('ok');
    clock.advance(31_000);
    assert.equal(await outcome(verifier, token), 'accepted', 'recovers when the issuer is back');
  });

  it('answers at once from the held set while a refresh hangs: only one refresh runs, nobody waits for it', async () => {
    const verifier = verifierFor({ timeoutMs: 1_000 });
    await verifier.warmUp();
    const token = await sign(key);
    await jwks.setMode('hang');
    clock.advance(11 * 60_000); // past the maximum age
    const started = performance.now();
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => outcome(verifier, token)));
    const elapsed = performance.now() - started;
    assert.deepEqual(new Set(outcomes), new Set(['accepted']));
    assert.ok(elapsed < 400, `20 requests took ${Math.round(elapsed)} ms against a 1 s fetch timeout`);
    assert.equal(verifier.issuers[0]?.keySet.stats.fetches, 2, 'the warm-up fetch and one background refresh');
    await next('fetch_failed'); // the hanging refresh ends at its timeout, and nobody waited for it
    assert.equal(jwks.requests.jwks, 2);
  });

  it('makes a request for a kid it does not hold wait for the shared refresh, never past the fetch timeout', async () => {
    const verifier = verifierFor({ timeoutMs: 300 });
    await verifier.warmUp();
    clock.advance(31_000); // past the cooldown: an unknown kid may be fetched
    await jwks.setMode('hang');
    const started = performance.now();
    assert.equal(await outcome(verifier, await sign(await createTestKey())), 'keys_unavailable');
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 1_500, `waited ${Math.round(elapsed)} ms for a 300 ms timeout`);
    assert.equal(await outcome(verifier, await sign(key)), 'accepted', 'a held key never waited');
  });

  // A token signed with a key the issuer has just rotated in is good; while the issuer cannot be asked, the client is
  // told to try again (503 keys_unavailable, RFC 9110 §15.6.4), not that its token is bad (401, RFC 6750 §3.1).
  it('answers an unknown kid with keys_unavailable while the last refresh failed, and unknown_kid after a good one', async () => {
    const verifier = verifierFor({ timeoutMs: 200 });
    await verifier.warmUp();
    const rotatedIn = await sign(await createTestKey());
    assert.equal(await outcome(verifier, rotatedIn), 'unknown_kid', 'a fresh set, the cooldown running: 401');
    clock.advance(31_000);
    await jwks.setMode('down');
    assert.equal(await outcome(verifier, rotatedIn), 'keys_unavailable', 'the refresh it asked for failed');
    assert.equal(await outcome(verifier, rotatedIn), 'keys_unavailable', 'backing off after the failure: no fetch');
    assert.equal(jwks.requests.jwks, 2);
    assert.equal(await outcome(verifier, await sign(key)), 'accepted', 'a held key is still good');
    await jwks.setMode('ok');
    clock.advance(31_000);
    assert.equal(await outcome(verifier, rotatedIn), 'unknown_kid', 'the issuer answered: the kid is not its');
    assert.equal(await outcome(verifier, rotatedIn), 'unknown_kid', 'and the cooldown holds');
    assert.equal(jwks.requests.jwks, 3);
  });

  it('counts the backoff after a failed fetch from the end of the attempt, not its start', async () => {
    const verifier = verifierFor({ timeoutMs: 200 });
    await jwks.setMode('hang');
    const token = await sign(key);
    const failed = next('fetch_failed');
    const first = outcome(verifier, token);
    clock.advance(900); // the attempt takes 0.9 s of the key set's clock before it fails
    await failed;
    assert.equal(await first, 'keys_unavailable');
    clock.advance(200); // 1.1 s after the start of the attempt, 0.2 s after its end: still backing off
    assert.equal(await outcome(verifier, token), 'keys_unavailable');
    assert.equal(jwks.requests.jwks, 1);
    await jwks.setMode('ok');
    clock.advance(800); // 1 s after the end
    assert.equal(await outcome(verifier, token), 'accepted');
    assert.equal(jwks.requests.jwks, 2);
  });

  it('backs off after a failed fetch instead of calling the issuer on every request', async () => {
    const verifier = verifierFor();
    await jwks.setMode('down');
    const token = await sign(key);
    for (let i = 0; i < 10; i += 1) assert.equal(await outcome(verifier, token), 'keys_unavailable');
    assert.equal(jwks.requests.jwks, 1);
    clock.advance(1_000);
    await outcome(verifier, token);
    assert.equal(jwks.requests.jwks, 2);
  });

  it('gives up on a slow issuer at the total timeout', async () => {
    const verifier = verifierFor({ timeoutMs: 200 });
    await jwks.setMode('hang');
    const started = performance.now();
    assert.equal(await outcome(verifier, await sign(key)), 'keys_unavailable');
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 150 && elapsed < 2_000, `gave up after ${Math.round(elapsed)} ms`);
  });

  it('gives up on a JWKS larger than the size cap', async () => {
    await jwks.setMode('garbage', { body: JSON.stringify({ keys: [key.publicJwk], padding: 'x'.repeat(10_000) }) });
    const verifier = verifierFor({ maxBytes: 4_096 });
    assert.equal(await outcome(verifier, await sign(key)), 'keys_unavailable');
    assert.ok(events.some((e) => e.type === 'fetch_failed' && e.error.includes('byte cap')));
  });

  it('refuses to fetch keys over plain http from anywhere but loopback', async () => {
    const keySet = createKeySet({ jwksUri: 'http://keys.example.com/jwks.json' });
    await assert.rejects(keySet.refresh(), /only https, or http on loopback/);
  });

  it('counts fetches, failures, cache hits and cooldown refusals', async () => {
    const verifier = verifierFor();
    await verifier.warmUp();
    await outcome(verifier, await sign(key));
    await outcome(verifier, await sign(await createTestKey()));
    const stats = verifier.issuers[0]?.keySet.stats;
    assert.deepEqual({ ...stats }, { fetches: 1, failures: 0, cacheHits: 1, cooldownRefusals: 1, staleUses: 0 });
  });

  it('finds the JWKS through OIDC discovery when no JWKS URI is configured', async () => {
    const verifier = createVerifier({ issuers: [{ issuer: jwks.issuer }], tokenCache: false });
    await verifier.warmUp();
    assert.equal(jwks.requests.discovery, 1);
    assert.equal(await outcome(verifier, await jwks.sign(key)), 'accepted');
  });
});
