import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { cognito, createAuthenticator, type Authenticator, type AuthRequest, type Outcome } from '../src/index.js';
import {
  createDpopKey,
  createTestClock,
  createTestKey,
  startTestIssuer,
  type DpopKey,
  type TestClock,
  type TestIssuer,
} from '@product-service/bearer-testing';

// RFC 9449 (https://www.rfc-editor.org/rfc/rfc9449), checked through the core's one call: each test names the step
// of §4.3 or the section it comes from. The conformance table (test/conformance/cases.ts) runs the same over HTTP
// through every adapter; these reach what HTTP clients cannot easily send (a proof for a configured origin).

const resource = 'https://api.example';

function request(token: string, proof: string | undefined, more: Partial<AuthRequest> = {}): AuthRequest {
  return {
    method: 'GET',
    path: '/items',
    headers: { authorization: `DPoP ${token}`, ...(proof === undefined ? {} : { dpop: proof }), host: 'evil.example' },
    ...more,
  };
}

async function reasonOf(outcome: Outcome | Promise<Outcome>): Promise<string> {
  const settled = await outcome;
  return 'refusal' in settled ? settled.refusal.reason : `admitted ${settled.principal?.subject ?? ''}`;
}

describe('DPoP (RFC 9449) in the core', () => {
  let jwks: TestIssuer;
  let clock: TestClock;
  let client: DpopKey;
  let auth: Authenticator;
  const build = (dpop?: Parameters<typeof createAuthenticator>[0]['dpop']) =>
    createAuthenticator({
      issuers: [cognito({ userPoolId: jwks.userPoolId, issuerBaseUrl: jwks.baseUrl, clientIds: null })],
      realm: 'items',
      now: clock.now,
      ...(dpop === undefined ? {} : { dpop }),
    });
  const bound = () => jwks.cognitoAccessToken({ ...client.cnf, scope: 'items/read' });
  const proof = (token: string, more: Partial<Parameters<DpopKey['proof']>[0]> = {}) =>
    client.proof({ method: 'GET', url: `${resource}/items`, token, now: clock.now(), ...more });

  before(async () => {
    clock = createTestClock();
    jwks = await startTestIssuer({ keys: [await createTestKey()], now: clock.now });
    client = await createDpopKey();
    auth = build({ resource });
    await auth.warmUp();
  });
  after(() => jwks.close());

  it('admits a bound token with a proof of this request, its htu from the configured resource, not Host (§4.3)', async () => {
    const token = await bound();
    assert.equal(await reasonOf(auth.authenticate(request(token, await proof(token)))), 'admitted test-client');
    // Negative control: the same proof for the Host the client sent is refused (auth0/node-oauth2-jwt-bearer#244).
    const forHost = await proof(token, { url: 'https://evil.example/items' });
    assert.equal(await reasonOf(auth.authenticate(request(token, forHost))), 'dpop_proof_mismatch');
  });

  it('compares htu after normalization: default port, case of the host, escaped unreserved characters (§4.3 step 9)', async () => {
    const token = await bound();
    const url = 'HTTPS://API.example:443/%69tems?x=1#f';
    const sent = await client.proof({ method: 'GET', url, token, now: clock.now(), claims: { htu: url } });
    assert.equal(await reasonOf(auth.authenticate(request(token, sent))), 'admitted test-client');
  });

  it('checks htu against the whole path where the adapter says the mount point stripped it', async () => {
    const token = await bound();
    const whole = await proof(token, { url: `${resource}/api/items` });
    assert.equal(
      await reasonOf(auth.authenticate(request(token, whole, { fullPath: '/api/items' }))),
      'admitted test-client',
    );
    const again = await proof(token, { url: `${resource}/api/items` });
    assert.equal(await reasonOf(auth.authenticate(request(token, again))), 'dpop_proof_mismatch');
  });

  it('refuses a proof used twice (§11.1), and keys the replay cache by thumbprint and jti', async () => {
    const token = await bound();
    const once = await proof(token);
    assert.equal(await reasonOf(auth.authenticate(request(token, once))), 'admitted test-client');
    assert.equal(await reasonOf(auth.authenticate(request(token, once))), 'dpop_proof_replayed');
  });

  it('asks one HTTP request twice without calling it a replay (Express: bearer(), then a route rule)', async () => {
    const token = await bound();
    const same = request(token, await proof(token));
    assert.equal(await reasonOf(auth.authenticate(same)), 'admitted test-client');
    assert.equal(await reasonOf(auth.authenticate({ ...same })), 'admitted test-client');
    // Negative control: the same proof in another request (another headers object) is a replay.
    assert.equal(await reasonOf(auth.authenticate({ ...same, headers: { ...same.headers } })), 'dpop_proof_replayed');
  });

  it('forgets the oldest proof past the replay cache bound, so the bound is what it says', async () => {
    const small = build({ resource, replayCache: { maxEntries: 2 } });
    const token = await bound();
    const first = await proof(token);
    for (const p of [first, await proof(token), await proof(token)]) {
      assert.equal(await reasonOf(small.authenticate(request(token, p))), 'admitted test-client');
    }
    assert.equal(await reasonOf(small.authenticate(request(token, first))), 'admitted test-client');
  });

  it('refuses a proof older than the window, or from the future, by iat (§4.3 step 11)', async () => {
    const token = await bound();
    const old = await proof(token, { now: clock.now() - 306_000 });
    assert.equal(await reasonOf(auth.authenticate(request(token, old))), 'dpop_proof_stale');
    const ahead = await proof(token, { now: clock.now() + 6_000 });
    assert.equal(await reasonOf(auth.authenticate(request(token, ahead))), 'dpop_proof_stale');
    const recent = await proof(token, { now: clock.now() - 299_000 });
    assert.equal(await reasonOf(auth.authenticate(request(token, recent))), 'admitted test-client');
  });

  it('refuses another method (§4.3 step 8), a missing or wrong ath (§4.3 step 12)', async () => {
    const token = await bound();
    assert.equal(
      await reasonOf(auth.authenticate(request(token, await proof(token, { method: 'POST' })))),
      'dpop_proof_mismatch',
    );
    const noAth = await proof(token, { claims: { ath: undefined } });
    assert.equal(await reasonOf(auth.authenticate(request(token, noAth))), 'dpop_proof_wrong_token');
    const other = await proof(await bound());
    assert.equal(await reasonOf(auth.authenticate(request(token, other))), 'dpop_proof_wrong_token');
  });

  it('refuses a wrong typ, an HS256 proof, one not signed by its jwk, a private jwk (§4.3 steps 4–7)', async () => {
    const token = await bound();
    const typ = await proof(token, { header: { typ: 'JWT' } });
    assert.equal(await reasonOf(auth.authenticate(request(token, typ))), 'dpop_proof_invalid');
    const stranger = await generateKeyPair('ES256');
    const forged = await proof(token, { signWith: stranger.privateKey });
    assert.equal(await reasonOf(auth.authenticate(request(token, forged))), 'dpop_proof_invalid');
    const secret = new TextEncoder().encode('a shared secret of thirty-two bytes!');
    const hs256 = await new SignJWT({
      jti: 'x',
      htm: 'GET',
      htu: `${resource}/items`,
      iat: Math.floor(clock.now() / 1000),
    })
      .setProtectedHeader({
        typ: 'dpop+jwt',
        alg: 'HS256',
        // A symmetric key in the header: jose's types forbid it, an attacker's client does not.
        jwk: { kty: 'oct', k: Buffer.from(secret).toString('base64url') } as { kty: string },
      })
      .sign(secret);
    assert.equal(await reasonOf(auth.authenticate(request(token, hs256))), 'dpop_proof_invalid');
    const withPrivate = await proof(token, { header: { jwk: await exportJWK(client.privateKey) } });
    assert.equal(await reasonOf(auth.authenticate(request(token, withPrivate))), 'dpop_proof_invalid');
  });

  it('imports a client key once, yet a jwk that differs in any member is checked afresh (§4.3 steps 6–7)', async () => {
    // The proof keys are remembered by the jwk header as sent: after admitted proofs with the public key, the same
    // key sent with its private part, with `use: enc` or with another `alg` is refused as jose's EmbeddedJWK refuses it.
    const token = await bound();
    for (let i = 0; i < 2; i += 1) {
      assert.match(await reasonOf(auth.authenticate(request(token, await proof(token)))), /^admitted/);
    }
    const withPrivate = await proof(token, { header: { jwk: await exportJWK(client.privateKey) } });
    assert.equal(await reasonOf(auth.authenticate(request(token, withPrivate))), 'dpop_proof_invalid');
    const forEncryption = await proof(token, { header: { jwk: { ...client.publicJwk, use: 'enc' } } });
    assert.equal(await reasonOf(auth.authenticate(request(token, forEncryption))), 'dpop_proof_invalid');
    const otherAlg = await proof(token, { header: { jwk: { ...client.publicJwk, alg: 'ES384' } } });
    assert.equal(await reasonOf(auth.authenticate(request(token, otherAlg))), 'dpop_proof_invalid');
    assert.match(await reasonOf(auth.authenticate(request(token, await proof(token)))), /^admitted/);
  });

  it('refuses a proof by a key other than the one the token is bound to (§6.1)', async () => {
    const other = await createDpopKey();
    const token = await bound();
    const theirs = await other.proof({ method: 'GET', url: `${resource}/items`, token, now: clock.now() });
    assert.equal(await reasonOf(auth.authenticate(request(token, theirs))), 'dpop_key_mismatch');
  });

  it('refuses a bound token without a proof, two DPoP headers, and an unbound token under the DPoP scheme', async () => {
    const token = await bound();
    assert.equal(await reasonOf(auth.authenticate(request(token, undefined))), 'dpop_proof_missing');
    const [a, b] = [await proof(token), await proof(token)];
    const raw = ['Authorization', `DPoP ${token}`, 'DPoP', a, 'DPoP', b];
    assert.equal(await reasonOf(auth.authenticate(request(token, a, { rawHeaders: raw }))), 'dpop_proof_invalid');
    assert.equal(await reasonOf(auth.authenticate(request(token, `${a}, ${b}`))), 'dpop_proof_invalid');
    const plain = await jwks.cognitoAccessToken({ scope: 'items/read' });
    assert.equal(await reasonOf(auth.authenticate(request(plain, await proof(plain)))), 'dpop_token_unbound');
  });

  it('refuses a bound token as Bearer (§7.2), even once remembered, and with DPoP off', async () => {
    const token = await bound();
    assert.equal(await reasonOf(auth.authenticate(request(token, await proof(token)))), 'admitted test-client');
    const asBearer = { method: 'GET', path: '/items', headers: { authorization: `Bearer ${token}` } };
    assert.equal(await reasonOf(auth.authenticate(asBearer)), 'dpop_bound_as_bearer');
    assert.equal(await reasonOf(build(false).authenticate(asBearer)), 'dpop_bound_as_bearer');
  });

  it('never lets a remembered bound token through without a fresh proof', async () => {
    const token = await bound();
    assert.equal(await reasonOf(auth.authenticate(request(token, await proof(token)))), 'admitted test-client');
    const hits = auth.stats.tokenCacheHits;
    assert.equal(await reasonOf(auth.authenticate(request(token, undefined))), 'dpop_proof_missing');
    assert.equal(
      await reasonOf(auth.authenticate(request(token, await proof(token, { method: 'PUT' })))),
      'dpop_proof_mismatch',
    );
    assert.equal(await reasonOf(auth.authenticate(request(token, await proof(token)))), 'admitted test-client');
    assert.ok(auth.stats.tokenCacheHits > hits, 'the token itself came from the cache');
  });

  it('challenges with DPoP algs beside Bearer, the error in the scheme the client used (§7.1)', async () => {
    const none = await auth.authenticate({ method: 'GET', path: '/items', headers: {} });
    assert.ok('refusal' in none);
    const algs = 'RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA Ed25519';
    assert.equal(none.refusal.headers['WWW-Authenticate'], `Bearer realm="items", DPoP realm="items", algs="${algs}"`);
    const token = await bound();
    const stale = await auth.authenticate(request(token, await proof(token, { now: clock.now() - 400_000 })));
    assert.ok('refusal' in stale);
    assert.equal(
      stale.refusal.headers['WWW-Authenticate'],
      `Bearer realm="items", DPoP realm="items", error="invalid_dpop_proof", error_description="DPoP proof too old or from the future", algs="${algs}"`,
    );
    assert.deepEqual(stale.refusal.body, {
      error: 'invalid_dpop_proof',
      error_description: 'DPoP proof too old or from the future',
    });
    assert.equal(stale.refusal.status, 401);
  });

  it('with { required: true } refuses plain bearer tokens and offers only the DPoP challenge', async () => {
    const required = build({ resource, required: true, algorithms: ['ES256'] });
    const plain = await jwks.cognitoAccessToken({ scope: 'items/read' });
    const outcome = await required.authenticate({
      method: 'GET',
      path: '/items',
      headers: { authorization: `Bearer ${plain}` },
    });
    assert.ok('refusal' in outcome);
    assert.equal(outcome.refusal.reason, 'dpop_required');
    assert.equal(outcome.refusal.headers['WWW-Authenticate'], 'DPoP realm="items", algs="ES256"');
    const token = await bound();
    assert.equal(await reasonOf(required.authenticate(request(token, await proof(token)))), 'admitted test-client');
    assert.throws(() => build({ required: true }), /resource/);
  });

  it('without a resource URL, neither accepts nor offers the DPoP scheme; dpop: false likewise', async () => {
    for (const plain of [build(), build(false)]) {
      const token = await bound();
      const outcome = await plain.authenticate(request(token, await proof(token)));
      assert.ok('refusal' in outcome);
      assert.equal(outcome.refusal.reason, 'malformed');
      assert.equal(outcome.refusal.headers['WWW-Authenticate']?.includes('DPoP'), false);
    }
  });
});
