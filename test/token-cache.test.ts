import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createVerifier, type Verifier } from '../src/auth/index.js';
import { createTestClock, type TestClock } from './support/clock.js';
import { cognitoClaims, makeKey, startJwksServer, type JwksServer, type TestKey } from './support/jwks-server.js';
import { cognitoAt } from './support/service.js';

describe('the verified-token cache', () => {
  let jwks: JwksServer;
  let key: TestKey;
  let clock: TestClock;
  let verifier: Verifier;

  beforeEach(async () => {
    jwks = await startJwksServer();
    key = await makeKey();
    jwks.publish([key]);
    clock = createTestClock();
    verifier = createVerifier({ issuers: [cognitoAt(jwks.baseUrl, jwks.userPoolId)], now: clock.now });
    await verifier.warmUp();
  });
  afterEach(() => jwks.close());

  const sign = (overrides: Record<string, unknown> = {}) =>
    jwks.sign(key, cognitoClaims(jwks.issuer, { iat: Math.floor(clock.now() / 1000), ...overrides }));

  it('makes a reused token nearly free: the second verification is a cache hit', async () => {
    const token = await sign();
    await verifier.verify(token);
    await verifier.verify(token);
    await verifier.verify(token);
    assert.deepEqual({ ...verifier.stats }, { tokenCacheHits: 2, tokenCacheMisses: 1 });
  });

  it('keys on the exact token, so two clients never share an entry', async () => {
    const a = await sign({ client_id: 'client-a', sub: 'client-a' });
    const b = await sign({ client_id: 'client-b', sub: 'client-b' });
    assert.equal((await verifier.verify(a)).clientId, 'client-a');
    assert.equal((await verifier.verify(b)).clientId, 'client-b');
    assert.equal((await verifier.verify(a)).clientId, 'client-a');
  });

  it('never serves a token past its exp', async () => {
    const token = await sign({ exp: Math.floor(clock.now() / 1000) + 60 });
    await verifier.verify(token);
    clock.advance(70_000);
    await assert.rejects(verifier.verify(token), { reason: 'expired' });
  });

  it('never serves a token whose key the issuer removed, once the key set is refreshed', async () => {
    const token = await sign({ exp: Math.floor(clock.now() / 1000) + 7200 });
    await verifier.verify(token);
    jwks.publish([await makeKey()]);
    clock.advance(11 * 60_000); // past the key set's maximum age: the next use refreshes it
    await assert.rejects(verifier.verify(token), { reason: 'unknown_kid' });
  });

  it('admits a reused token without an async step only while that needs no I/O (peek)', async () => {
    const token = await sign({ exp: Math.floor(clock.now() / 1000) + 7200 });
    assert.equal(verifier.peek(token), undefined, 'never seen: only verify() can answer');
    await verifier.verify(token);
    assert.equal(verifier.peek(token)?.subject, 'test-client');
    assert.equal(verifier.peek(`${token}x`), undefined, 'keyed on the exact string');
    clock.advance(11 * 60_000); // the key set is past its maximum age: it must be refreshed first, by verify()
    assert.equal(verifier.peek(token), undefined);
    await verifier.verify(token);
    assert.equal(verifier.peek(token)?.subject, 'test-client', 'the same keys came back: the entry stands');
    jwks.publish([await makeKey()]);
    clock.advance(11 * 60_000);
    await assert.rejects(verifier.verify(token), { reason: 'unknown_kid' });
    assert.equal(verifier.peek(token), undefined, 'its key was removed');
  });

  it("never answers from peek past the token's exp", async () => {
    const token = await sign({ exp: Math.floor(clock.now() / 1000) + 60 });
    await verifier.verify(token);
    clock.advance(61_000);
    assert.equal(verifier.peek(token), undefined);
  });

  it('never answers from peek when a revocation hook is configured: the hook must see every request', async () => {
    const revocable = createVerifier({
      issuers: [cognitoAt(jwks.baseUrl, jwks.userPoolId)],
      isRevoked: () => Promise.resolve(false),
      now: clock.now,
    });
    const token = await sign();
    await revocable.verify(token);
    assert.equal(revocable.peek(token), undefined);
  });

  it('never caches a refused token as accepted', async () => {
    const token = await sign({ token_use: 'id' });
    await assert.rejects(verifier.verify(token), { reason: 'wrong_token_use' });
    await assert.rejects(verifier.verify(token), { reason: 'wrong_token_use' });
    assert.equal(verifier.stats.tokenCacheHits, 0);
  });

  it('is bounded: the oldest entries give way', async () => {
    const small = createVerifier({
      issuers: [cognitoAt(jwks.baseUrl, jwks.userPoolId)],
      tokenCache: { maxEntries: 2 },
      now: clock.now,
    });
    const tokens = await Promise.all([sign({ jti: '1' }), sign({ jti: '2' }), sign({ jti: '3' })]);
    for (const t of tokens) await small.verify(t);
    await small.verify(tokens[0]);
    assert.equal(small.stats.tokenCacheHits, 0, 'the first token was evicted');
    await small.verify(tokens[2]);
    assert.equal(small.stats.tokenCacheHits, 1);
  });

  it('can be turned off', async () => {
    const off = createVerifier({ issuers: [cognitoAt(jwks.baseUrl, jwks.userPoolId)], tokenCache: false });
    const token = await sign();
    await off.verify(token);
    await off.verify(token);
    assert.deepEqual({ ...off.stats }, { tokenCacheHits: 0, tokenCacheMisses: 0 });
  });
});
