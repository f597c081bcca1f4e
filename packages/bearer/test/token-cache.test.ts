import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setImmediate } from 'node:timers/promises';
import { createVerifier, type Verifier } from '../src/verifier.js';
import { answerNow as answeredNow, verify } from './support/outcome.js';
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

describe('the verified-token cache', () => {
  let jwks: TestIssuer;
  let key: TestKey;
  let clock: TestClock;
  let verifier: Verifier;
  let onRefreshEnd: (() => void)[];
  /** Resolves when the key set's refresh in the background ends (fetched or failed). */
  const refreshed = () => new Promise<void>((resolve) => onRefreshEnd.push(resolve));

  beforeEach(async () => {
    key = await createTestKey();
    jwks = await startTestIssuer({ keys: [key] });
    clock = createTestClock();
    onRefreshEnd = [];
    verifier = createVerifier({
      // Any app client: some tests sign tokens for two clients, to show that the cache keeps them apart.
      issuers: [cognito(jwks.cognitoProfile({ clientIds: null }))],
      now: clock.now,
      onKeySetEvent: (_issuer, event) => {
        if (event.type === 'stale_used') return;
        for (const resolve of onRefreshEnd.splice(0)) resolve();
      },
    });
    await verifier.warmUp();
  });
  afterEach(() => jwks.close());

  /** What the verifier answers without an async step: the subject, the refusal's reason, or undefined (a promise). */
  const answerNow = (token: string, from: Verifier = verifier) => answeredNow(from, token);

  const sign = (overrides: Record<string, unknown> = {}) =>
    jwks.sign(key, cognitoAccessClaims(jwks.issuer, { iat: Math.floor(clock.now() / 1000), ...overrides }));

  it('makes a reused token nearly free: the second verification is a cache hit', async () => {
    const token = await sign();
    await verify(verifier, token);
    await verify(verifier, token);
    await verify(verifier, token);
    assert.deepEqual(
      { ...verifier.stats },
      { tokenCacheHits: 2, tokenCacheMisses: 1, nodeSignatureChecks: 1, joseSignatureChecks: 0 },
      'one signature check for three verifications',
    );
  });

  it('keys on the exact token, so two clients never share an entry', async () => {
    const a = await sign({ client_id: 'client-a', sub: 'client-a' });
    const b = await sign({ client_id: 'client-b', sub: 'client-b' });
    assert.equal((await verify(verifier, a)).clientId, 'client-a');
    assert.equal((await verify(verifier, b)).clientId, 'client-b');
    assert.equal((await verify(verifier, a)).clientId, 'client-a');
  });

  it('never serves a token past its exp', async () => {
    const token = await sign({ exp: Math.floor(clock.now() / 1000) + 60 });
    await verify(verifier, token);
    clock.advance(70_000);
    await assert.rejects(verify(verifier, token), { reason: 'expired' });
  });

  it('never serves a token whose key the issuer removed, once the key set is refreshed', async () => {
    const token = await sign({ exp: Math.floor(clock.now() / 1000) + 7200 });
    await verify(verifier, token);
    jwks.publish([await createTestKey()]);
    clock.advance(11 * 60_000); // past the key set's maximum age: the next use refreshes it in the background
    const done = refreshed();
    await verify(verifier, token);
    await done;
    await assert.rejects(verify(verifier, token), { reason: 'unknown_kid' });
  });

  it('never answers for a key set past stale-if-error: a cached token gets the same 503 as a new one', async () => {
    const token = await sign({ exp: Math.floor(clock.now() / 1000) + 3 * 3600 });
    await verify(verifier, token);
    await jwks.setMode('down');
    clock.advance(11 * 60_000); // past the maximum age, within stale-if-error (1 h): the held set still counts
    const done = refreshed();
    assert.equal(answerNow(token), 'test-client');
    await done;
    clock.advance(60 * 60_000); // past stale-if-error: the service trusts no key set now
    assert.equal(answerNow(token), undefined, 'only a promise can answer, with its 503');
    await assert.rejects(verify(verifier, token), { reason: 'keys_unavailable' });
    await assert.rejects(verify(verifier, await sign()), { reason: 'keys_unavailable' });
    assert.equal(verifier.ready(), false, 'readiness says the same');
  });

  it('answers a reused token without an async step only while that needs no I/O', async () => {
    const token = await sign({ exp: Math.floor(clock.now() / 1000) + 7200 });
    assert.equal(answerNow(token), undefined, "its kid's key not selected yet: only a promise can answer");
    await verify(verifier, token);
    assert.equal(answerNow(token), 'test-client');
    assert.equal(answerNow(`${token}x`), 'bad_signature', 'keyed on the exact string: another token is checked anew');
    clock.advance(11 * 60_000); // past the key set's maximum age: answered at once, a refresh runs meanwhile
    let done = refreshed();
    assert.equal(answerNow(token), 'test-client');
    await done;
    assert.equal(answerNow(token), 'test-client', 'the same keys came back: the entry stands');
    jwks.publish([await createTestKey()]);
    clock.advance(11 * 60_000);
    done = refreshed();
    assert.equal(answerNow(token), 'test-client', 'until the refresh is in');
    await done;
    await setImmediate(); // the refresh has settled, whatever the order of its event and its promise
    // What a user relies on: the removed key's token is never admitted again from the cache, answered at once or not.
    assert.ok(
      [undefined, 'unknown_kid'].includes(answerNow(token)),
      'its key was removed: not admitted from the cache',
    );
    await assert.rejects(verify(verifier, token), { reason: 'unknown_kid' });
  });

  it('checks a new token at once when its key was selected before in this key set, as the promise would', async () => {
    await verify(verifier, await sign());
    const fresh = await sign({ sub: 'another-client', client_id: 'another-client' });
    assert.equal(answerNow(fresh), 'another-client');
    assert.equal(verifier.stats.nodeSignatureChecks, 2, 'its signature was checked, not taken from the cache');
    const [header, payload] = fresh.split('.');
    const forged = `${header}.${payload}.${(await sign()).split('.')[2] ?? ''}`;
    assert.equal(answerNow(forged), 'bad_signature');
    assert.equal(answerNow(await sign({ token_use: 'id' })), 'wrong_token_use');
    assert.equal(answerNow(await sign({ exp: Math.floor(clock.now() / 1000) - 60 })), 'expired');
    assert.equal(answerNow('x'.repeat(9000)), 'token_too_large');
    assert.equal(
      verifier.stats.tokenCacheMisses,
      5,
      'every token within the size cap and not answered from the cache is one miss, counted once (the first by verify)',
    );
  });

  // aws-jwt-verify's verify and verifySync share one decomposed JWT; so do the synchronous and asynchronous paths here
  // (the old verifyNow parsed a token, gave up for want of a selected key, and verify parsed it again).
  it('parses a token once, also when its answer needs the asynchronous key selection', async () => {
    const token = await sign();
    const parse = JSON.parse;
    let parses = 0;
    JSON.parse = ((text: string, reviver?: Parameters<typeof parse>[1]) => {
      parses += 1;
      return parse(text, reviver) as unknown;
    }) as typeof JSON.parse;
    try {
      const pending = verifier.check(token);
      assert.ok(pending instanceof Promise, "its kid's key not selected yet: answered by a promise");
      assert.equal(((await pending) as { subject?: string }).subject, 'test-client');
    } finally {
      JSON.parse = parse;
    }
    assert.equal(parses, 2, 'the header and the payload, each once');
  });

  it('leaves every new token to a promise when jose checks signatures, and still answers a remembered one', async () => {
    const byJose = createVerifier({
      issuers: [cognito(jwks.cognitoProfile())],
      now: clock.now,
      signatureCheck: 'jose',
    });
    const token = await sign();
    await verify(byJose, token);
    assert.equal(answerNow(await sign({ sub: 'another-client' }), byJose), undefined);
    assert.equal(answerNow(token, byJose), 'test-client');
  });

  it("never answers from the cache past the token's exp", async () => {
    const token = await sign({ exp: Math.floor(clock.now() / 1000) + 60 });
    await verify(verifier, token);
    clock.advance(61_000);
    assert.equal(answerNow(token), 'test-client', 'verified anew: within the 5 s clock tolerance');
    assert.equal(verifier.stats.tokenCacheHits, 0);
    clock.advance(5_000);
    assert.equal(answerNow(token), 'expired');
  });

  it('never answers at once when a revocation hook is configured: the hook must see every request', async () => {
    const revocable = createVerifier({
      issuers: [cognito(jwks.cognitoProfile())],
      isRevoked: () => Promise.resolve(false),
      now: clock.now,
    });
    const token = await sign();
    await verify(revocable, token);
    assert.equal(answerNow(token, revocable), undefined);
  });

  it('never caches a refused token as accepted', async () => {
    const token = await sign({ token_use: 'id' });
    await assert.rejects(verify(verifier, token), { reason: 'wrong_token_use' });
    await assert.rejects(verify(verifier, token), { reason: 'wrong_token_use' });
    assert.equal(verifier.stats.tokenCacheHits, 0);
  });

  it('is bounded: the oldest entries give way', async () => {
    const small = createVerifier({
      issuers: [cognito(jwks.cognitoProfile())],
      tokenCache: { maxEntries: 2 },
      now: clock.now,
    });
    const tokens = await Promise.all([sign({ jti: '1' }), sign({ jti: '2' }), sign({ jti: '3' })]);
    for (const t of tokens) await verify(small, t);
    await verify(small, tokens[0]);
    assert.equal(small.stats.tokenCacheHits, 0, 'the first token was evicted');
    await verify(small, tokens[2]);
    assert.equal(small.stats.tokenCacheHits, 1);
  });

  it('can be turned off', async () => {
    const off = createVerifier({ issuers: [cognito(jwks.cognitoProfile())], tokenCache: false });
    const token = await sign();
    await verify(off, token);
    await verify(off, token);
    assert.deepEqual(
      { ...off.stats },
      { tokenCacheHits: 0, tokenCacheMisses: 0, nodeSignatureChecks: 2, joseSignatureChecks: 0 },
      'both verifications checked the signature',
    );
  });
});
