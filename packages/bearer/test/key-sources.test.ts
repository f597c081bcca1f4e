import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cognito, oidc } from '../src/issuers.js';
import { createKeySet } from '../src/key-set.js';
import { createVerifier } from '../src/verifier.js';
import type { Fetch } from '../src/fetch-json.js';
import { outcome } from './support/outcome.js';
import {
  cognitoAccessClaims,
  createTestClock,
  createTestKey,
  startTestIssuer,
  type TestIssuer,
  type TestKey,
} from '@product-service/bearer-testing';

/** A `fetch` that records every URL it is asked for, then asks the real one (or refuses, when `offline`). */
function recordingFetch(offline = false): { readonly fetch: Fetch; readonly urls: string[] } {
  const urls: string[] = [];
  return {
    urls,
    fetch: (url, init) => {
      urls.push(url.href);
      return offline ? Promise.reject(new Error('offline: no fetch expected')) : fetch(url, init);
    },
  };
}

// An issuer whose keys are given up front (aws-jwt-verify's cacheJwks, express-oauth2-jwt-bearer's publicKey): for
// offline use and tests. Nothing is ever fetched, whatever the tokens say.
describe('a static JWKS', () => {
  let jwks: TestIssuer;
  let key: TestKey;

  before(async () => {
    key = await createTestKey();
    jwks = await startTestIssuer({ keys: [key] });
  });
  after(() => jwks.close());

  it('verifies with the given keys and never fetches: not at warm-up, not for an unknown kid, not when stale', async () => {
    const recorder = recordingFetch(true);
    const clock = createTestClock();
    const verifier = createVerifier({
      issuers: [
        cognito({
          userPoolId: jwks.userPoolId,
          issuerBaseUrl: jwks.baseUrl,
          clientIds: null,
          jwks: { keys: [key.publicJwk] },
        }),
      ],
      fetch: recorder.fetch,
      now: clock.now,
      tokenCache: false,
    });
    assert.equal(verifier.ready(), true, 'ready without a fetch');
    await verifier.warmUp();
    const sign = (k: TestKey) =>
      jwks.sign(
        k,
        cognitoAccessClaims(jwks.issuer, {
          iat: Math.floor(clock.now() / 1000),
          exp: Math.floor(clock.now() / 1000) + 7200,
        }),
      );
    assert.equal(await outcome(verifier, await sign(key)), 'accepted');
    assert.equal(
      await outcome(verifier, await sign(await createTestKey())),
      'unknown_kid',
      'a kid not given is refused at once',
    );
    clock.advance(60 * 60_000); // far past a remote set's maximum age
    assert.equal(await outcome(verifier, await sign(key)), 'accepted');
    assert.deepEqual(recorder.urls, [], 'the injected fetch was never called');
    assert.equal(jwks.requests.jwks, 0, 'the JWKS server saw nothing');
    assert.equal(jwks.requests.discovery, 0);
  });

  it('takes the keys in place of discovery for an oidc issuer', async () => {
    const recorder = recordingFetch(true);
    const verifier = createVerifier({
      issuers: [oidc({ issuer: jwks.issuer, jwks: { keys: [key.publicJwk] } })],
      fetch: recorder.fetch,
    });
    assert.equal(
      await outcome(verifier, await jwks.sign(key, { iss: jwks.issuer, sub: 'x', exp: 4102444800 })),
      'accepted',
    );
    assert.deepEqual(recorder.urls, []);
  });
});

describe('an injected fetch (as jose’s customFetch)', () => {
  let jwks: TestIssuer;
  let key: TestKey;

  before(async () => {
    key = await createTestKey();
    jwks = await startTestIssuer({ keys: [key] });
  });
  after(() => jwks.close());

  it('is used for the JWKS', async () => {
    const recorder = recordingFetch();
    const verifier = createVerifier({ issuers: [cognito(jwks.cognitoProfile())], fetch: recorder.fetch });
    await verifier.warmUp();
    assert.equal(await outcome(verifier, await jwks.sign(key)), 'accepted');
    assert.deepEqual(recorder.urls, [jwks.jwksUri]);
  });

  it('is used for OIDC discovery and then the JWKS it names', async () => {
    const recorder = recordingFetch();
    const verifier = createVerifier({ issuers: [oidc({ issuer: jwks.issuer })], fetch: recorder.fetch });
    await verifier.warmUp();
    assert.deepEqual(recorder.urls, [`${jwks.issuer}/.well-known/openid-configuration`, jwks.jwksUri]);
  });

  it('answers 503 keys_unavailable when it fails, like any fetch', async () => {
    const before = jwks.requests.jwks;
    const verifier = createVerifier({
      issuers: [cognito(jwks.cognitoProfile())],
      fetch: () => Promise.reject(new Error('proxy down')),
    });
    assert.equal(await outcome(verifier, await jwks.sign(key)), 'keys_unavailable');
    assert.equal(jwks.requests.jwks, before, 'the global fetch was not used instead');
  });
});

// jose's remote JWK set separates questions (fresh, coolingDown) from work (reload). Ours: asking a key set about
// itself starts no refresh and bumps no counter; the verifier decides when to refresh.
describe('the key set’s questions have no side effects', () => {
  let jwks: TestIssuer;
  let key: TestKey;

  before(async () => {
    key = await createTestKey();
    jwks = await startTestIssuer({ keys: [key] });
  });
  after(() => jwks.close());

  it('state(), refusesWithoutFetch(), status() and generation() fetch nothing and count nothing, even when stale', async () => {
    const clock = createTestClock();
    let onFetched: () => void = () => undefined;
    const keySet = createKeySet({
      jwksUri: jwks.jwksUri,
      now: clock.now,
      onEvent: (event) => event.type === 'fetched' && onFetched(),
    });
    await keySet.refresh();
    const requests = jwks.requests.jwks;
    const stats = { ...keySet.stats };
    const ask = () => {
      for (let i = 0; i < 5; i += 1) {
        keySet.state();
        keySet.refusesWithoutFetch('not-a-kid');
        keySet.refusesWithoutFetch(key.kid);
        keySet.status();
        keySet.generation();
      }
    };
    ask();
    assert.equal(keySet.state(), 'fresh');
    assert.equal(keySet.refusesWithoutFetch('not-a-kid'), true, 'within the cooldown an unknown kid is refused');
    clock.advance(11 * 60_000); // past the maximum age: stale, a refresh due
    ask();
    assert.equal(keySet.state(), 'stale');
    // A fetch is counted the moment it starts, so an unchanged `fetches` means none was started.
    assert.deepEqual({ ...keySet.stats }, stats, 'no fetch started, no counter moved');
    assert.equal(jwks.requests.jwks, requests);
    // Work happens when asked for by name.
    const fetched = new Promise<void>((resolve) => (onFetched = resolve));
    keySet.revalidate();
    await fetched;
    assert.equal(jwks.requests.jwks, requests + 1, 'revalidate() fetched once');
    assert.equal(keySet.state(), 'fresh');
  });

  it('a stale set is refreshed in the background by the verifier, which decides when', async () => {
    const clock = createTestClock();
    let onFetched: () => void = () => undefined;
    const verifier = createVerifier({
      issuers: [cognito(jwks.cognitoProfile())],
      now: clock.now,
      onKeySetEvent: (_issuer, event) => event.type === 'fetched' && onFetched(),
    });
    const keySet = verifier.issuers[0]?.keySet;
    assert.ok(keySet);
    const fetches = () => keySet.stats.fetches;
    await verifier.warmUp();
    const token = await jwks.sign(
      key,
      cognitoAccessClaims(jwks.issuer, {
        iat: Math.floor(clock.now() / 1000),
        exp: Math.floor(clock.now() / 1000) + 7200,
      }),
    );
    assert.equal(await outcome(verifier, token), 'accepted');
    clock.advance(11 * 60_000);
    assert.equal(verifier.ready(), true); // a question
    assert.equal(keySet.status().stale, true);
    assert.equal(fetches(), 1, 'asking about readiness refreshed nothing');
    const refreshed = new Promise<void>((resolve) => (onFetched = resolve));
    assert.equal(await outcome(verifier, token), 'accepted', 'answered from the held set');
    assert.equal(fetches(), 2, 'using the stale set started one refresh');
    await refreshed;
    assert.equal(keySet.status().stale, false);
  });
});
