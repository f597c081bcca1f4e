import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { cognito, createAuthenticator, rfc9068, type Authenticator, type Outcome } from '@product-service/bearer';
import {
  createTestClock,
  createTestKey,
  personSubject,
  startTestIssuer,
  type TestClock,
  type TestIssuer,
  type TestKey,
} from '@product-service/bearer-testing';
import { nameBasedUuid } from '../src/claims.js';

const bearer = (token: string) => ({ method: 'GET', path: '/', headers: { authorization: `Bearer ${token}` } });

/** 'accepted', or the refusal's status and reason: what the core made of the request. */
async function verdict(authenticator: Authenticator, token: string): Promise<string> {
  const outcome: Outcome = await authenticator.authenticate(bearer(token));
  return 'refusal' in outcome ? `${outcome.refusal.status} ${outcome.refusal.reason}` : 'accepted';
}

// Each mode of the kit as the core sees it: a kit whose `down` answered 200 would make every outage test pass.
describe('the test issuer, observed by the core', () => {
  let key: TestKey;
  let issuer: TestIssuer;
  let clock: TestClock;

  before(async () => {
    key = await createTestKey();
  });
  beforeEach(async () => {
    clock = createTestClock();
    issuer = await startTestIssuer({ keys: [key], now: clock.now });
  });
  afterEach(() => issuer.close());

  const cognitoAuthenticator = (timeoutMs = 5_000) =>
    createAuthenticator({
      issuers: [cognito(issuer.cognitoProfile({ keySet: { timeoutMs } }))],
      now: clock.now,
      tokenCache: false,
    });

  it('serves a discovery document naming itself and its JWKS, and the published keys', async () => {
    const discovery = (await (await fetch(issuer.discoveryUri)).json()) as Record<string, unknown>;
    assert.equal(discovery['issuer'], issuer.issuer);
    assert.equal(discovery['jwks_uri'], issuer.jwksUri);
    const jwks = (await (await fetch(issuer.jwksUri)).json()) as { keys: { kid: string }[] };
    assert.deepEqual(
      jwks.keys.map((k) => k.kid),
      [key.kid],
    );
    assert.deepEqual(issuer.requests, { jwks: 1, discovery: 1 });
  });

  it('mints Cognito access tokens that cognito() accepts, people with their groups', async () => {
    const authenticator = cognitoAuthenticator();
    assert.equal(await verdict(authenticator, await issuer.cognitoAccessToken()), 'accepted');
    const person = await authenticator.authenticate(
      bearer(await issuer.cognitoAccessToken({ username: 'ada', 'cognito:groups': ['admin'] })),
    );
    assert.ok('principal' in person && person.principal);
    assert.equal(person.principal.username, 'ada');
    assert.deepEqual(person.principal.groups, ['admin']);
    assert.equal(person.principal.clientId, issuer.clientId);
  });

  it("gives a person's token a subject of its own, not the client's, and a machine's its client id", async () => {
    const authenticator = cognitoAuthenticator();
    const subjectOf = async (token: string) => {
      const outcome = await authenticator.authenticate(bearer(token));
      assert.ok('principal' in outcome && outcome.principal);
      return outcome.principal.subject;
    };
    const ada = await subjectOf(await issuer.cognitoAccessToken({ username: 'ada' }));
    assert.equal(ada, personSubject('ada'));
    assert.notEqual(ada, issuer.clientId);
    assert.equal(await subjectOf(await issuer.cognitoAccessToken({ username: 'ada' })), ada, 'the same in every token');
    assert.notEqual(await subjectOf(await issuer.cognitoAccessToken({ username: 'bob' })), ada);
    assert.equal(await subjectOf(await issuer.cognitoAccessToken()), issuer.clientId, "a machine's is its client id");
    assert.equal(await subjectOf(await issuer.cognitoAccessToken({ username: 'ada', sub: 'given' })), 'given');
    const ids = createAuthenticator({
      issuers: [cognito(issuer.cognitoProfile({ tokenUse: ['id'] }))],
      now: clock.now,
    });
    const idToken = await issuer.cognitoIdToken({ 'cognito:username': 'ada' });
    const fromId = await ids.authenticate(bearer(idToken));
    assert.ok('principal' in fromId && fromId.principal?.subject === ada, "an ID token names the person's own too");
  });

  it('mints Cognito ID tokens, accepted only where ID tokens are', async () => {
    const token = await issuer.cognitoIdToken();
    assert.equal(await verdict(cognitoAuthenticator(), token), '401 wrong_token_use');
    const ids = createAuthenticator({ issuers: [cognito(issuer.cognitoProfile({ tokenUse: ['id'] }))] });
    assert.equal(await verdict(ids, token), 'accepted');
  });

  it('mints RFC 9068 tokens that rfc9068() accepts, and a Cognito token is not one', async () => {
    const authenticator = createAuthenticator({ issuers: [rfc9068(issuer.rfc9068Profile())], now: clock.now });
    assert.equal(await verdict(authenticator, await issuer.rfc9068AccessToken()), 'accepted');
    assert.equal(await verdict(authenticator, await issuer.cognitoAccessToken()), '401 wrong_type');
    assert.equal(
      await verdict(authenticator, await issuer.rfc9068AccessToken({ aud: 'https://elsewhere.example' })),
      '401 wrong_audience',
    );
  });

  it('lets any claim be overridden or left out', async () => {
    const authenticator = cognitoAuthenticator();
    assert.equal(
      await verdict(authenticator, await issuer.cognitoAccessToken({ client_id: 'other' })),
      '401 client_not_allowed',
    );
    assert.equal(
      await verdict(authenticator, await issuer.cognitoAccessToken({ sub: undefined })),
      '401 claims_invalid',
    );
  });

  it('dates its tokens by the clock it is given', async () => {
    const authenticator = cognitoAuthenticator();
    const token = await issuer.cognitoAccessToken();
    clock.advance(3_600_000 + 10_000);
    assert.equal(await verdict(authenticator, token), '401 expired');
    assert.equal(await verdict(authenticator, await issuer.cognitoAccessToken()), 'accepted');
  });

  it('rotates: a new key is accepted after one refetch, a retired one is refused after the next', async () => {
    const authenticator = cognitoAuthenticator();
    await authenticator.warmUp();
    const before = await issuer.cognitoAccessToken();
    clock.advance(31_000); // past the cooldown that follows the warm-up fetch
    const next = await issuer.rotate();
    assert.equal(issuer.signingKey, next);
    assert.equal(await verdict(authenticator, await issuer.cognitoAccessToken()), 'accepted');
    assert.equal(issuer.requests.jwks, 2, 'the new kid made the core refetch once');
    issuer.retire(key);
    assert.deepEqual(
      issuer.keys.map((k) => k.kid),
      [next.kid],
    );
    clock.advance(11 * 60_000); // past the key set's maximum age
    await authenticator.warmUp();
    assert.equal(await verdict(authenticator, before), '401 unknown_kid');
  });

  it('down: answers 503, and the core answers 503', async () => {
    await issuer.setMode('down');
    assert.equal((await fetch(issuer.jwksUri)).status, 503);
    assert.equal(await verdict(cognitoAuthenticator(), await issuer.cognitoAccessToken()), '503 keys_unavailable');
  });

  it('down with refuse: the port refuses connections, the core answers 503, and ok reopens the same port', async () => {
    await issuer.setMode('down', { refuse: true });
    await assert.rejects(fetch(issuer.jwksUri), (error: Error & { cause?: { code?: string } }) => {
      assert.equal(error.cause?.code, 'ECONNREFUSED');
      return true;
    });
    const authenticator = cognitoAuthenticator();
    assert.equal(await verdict(authenticator, await issuer.cognitoAccessToken()), '503 keys_unavailable');
    await issuer.setMode('ok');
    clock.advance(60_000); // past the backoff after the failed fetch
    assert.equal(await verdict(authenticator, await issuer.cognitoAccessToken()), 'accepted');
  });

  it('garbage: answers 200 with a page that is no key set, and the core answers 503', async () => {
    await issuer.setMode('garbage');
    const response = await fetch(issuer.jwksUri);
    assert.equal(response.status, 200);
    const body = await response.text();
    assert.throws(() => JSON.parse(body) as unknown, SyntaxError);
    assert.equal(await verdict(cognitoAuthenticator(), await issuer.cognitoAccessToken()), '503 keys_unavailable');
  });

  it('hang: accepts and never answers, and the core answers 503 within its key-set timeout', async () => {
    await issuer.setMode('hang');
    const token = await issuer.cognitoAccessToken();
    const started = performance.now();
    assert.equal(await verdict(cognitoAuthenticator(300), token), '503 keys_unavailable');
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 2_000, `${Math.round(elapsed)} ms`);
    assert.equal(issuer.requests.jwks, 1, 'the request reached the issuer');
  });

  it('counts discovery and JWKS requests apart', async () => {
    const authenticator = createAuthenticator({
      issuers: [rfc9068({ issuer: issuer.issuer, audience: [issuer.audience] })],
      now: clock.now,
    });
    await authenticator.warmUp();
    assert.deepEqual(issuer.requests, { jwks: 1, discovery: 1 });
  });
});

describe('the test issuer, on its own', () => {
  let issuer: TestIssuer;
  before(async () => {
    issuer = await startTestIssuer({ userPoolId: 'local_Defaults' });
  });
  after(() => issuer.close());

  it('starts with a key of its own, and a Cognito profile for its own client', () => {
    assert.equal(issuer.keys.length, 1);
    assert.equal(issuer.issuer, `${issuer.baseUrl}/local_Defaults`);
    const profile = issuer.cognitoProfile();
    assert.deepEqual(profile.clientIds, [issuer.clientId]);
    assert.equal(cognito(profile).issuer, issuer.issuer);
    assert.equal(issuer.cognitoProfile({ clientIds: null }).clientIds, null);
  });

  it('refuses to sign with no key published', async () => {
    const only = issuer.signingKey;
    issuer.retire(only);
    await assert.rejects(issuer.cognitoAccessToken(), /publishes no key/);
    issuer.publish([only]);
  });
});

/** A port that was free a moment ago. */
async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => probe.once('listening', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe("the test issuer's port", () => {
  it('takes a free port by default', async () => {
    const [one, two] = await Promise.all([startTestIssuer(), startTestIssuer()]);
    try {
      assert.match(one.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.notEqual(one.baseUrl, two.baseUrl);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it('listens on the port it is given: its URLs name it, and the core fetches its keys there', async () => {
    const port = await freePort();
    const issuer = await startTestIssuer({ port });
    try {
      assert.equal(issuer.baseUrl, `http://127.0.0.1:${port}`);
      assert.equal(issuer.issuer, `http://127.0.0.1:${port}/local_TestPool`);
      const authenticator = createAuthenticator({ issuers: [cognito(issuer.cognitoProfile())] });
      assert.equal(await verdict(authenticator, await issuer.cognitoAccessToken()), 'accepted');
      assert.equal(issuer.requests.jwks, 1);
      // After a refusal of connections, `ok` reopens the port it was given.
      await issuer.setMode('down', { refuse: true });
      await issuer.setMode('ok');
      assert.equal((await fetch(`http://127.0.0.1:${port}/local_TestPool/.well-known/jwks.json`)).status, 200);
    } finally {
      await issuer.close();
    }
  });

  it('rejects a port that is taken (EADDRINUSE) or that is no port', async () => {
    const first = await startTestIssuer();
    try {
      const taken = Number(new URL(first.baseUrl).port);
      // Closed if it wrongly starts elsewhere, so that a failure here fails fast instead of holding the run open.
      const second = startTestIssuer({ port: taken }).then((started) => started.close());
      await assert.rejects(second, { code: 'EADDRINUSE' });
    } finally {
      await first.close();
    }
    for (const port of [-1, 65536, 1.5, Number.NaN]) {
      const started = startTestIssuer({ port }).then((wrong) => wrong.close());
      await assert.rejects(started, TypeError, String(port));
    }
  });
});

describe("a person's subject", () => {
  it("is a version 5 UUID (RFC 9562 §5.5): the RFC's own example, then the same for a username every time", () => {
    // RFC 9562 Appendix A.4: "www.example.com" in the DNS namespace.
    assert.equal(
      nameBasedUuid('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com'),
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
    assert.match(personSubject('ada'), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(personSubject('ada'), personSubject('ada'));
    assert.notEqual(personSubject('ada'), personSubject('Ada'));
  });
});

describe('the test clock', () => {
  it('stands still until advanced', () => {
    const clock = createTestClock(1_000);
    assert.equal(clock.now(), 1_000);
    clock.advance(500);
    assert.equal(clock.now(), 1_500);
  });
});
