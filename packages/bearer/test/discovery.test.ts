import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { oidc } from '../src/issuers.js';
import type { KeySetEvent } from '../src/key-set.js';
import { createVerifier } from '../src/verifier.js';
import { outcome } from './support/outcome.js';
import { createTestKey, type TestKey } from '@product-service/bearer-testing';

// OIDC discovery (OpenID Connect Discovery 1.0 §4) is a fetch of an issuer's document like the JWKS fetch after it,
// so the configured byte cap (`keySet.maxBytes`) bounds it too: a hostile or broken issuer cannot make us read a
// document of any size before the JWKS fetch would have refused one.
describe('OIDC discovery honours the configured maxBytes', () => {
  const maxBytes = 4_096;
  let key: TestKey;
  let server: Server;
  let issuer: string;
  /** Characters of padding in the discovery document the server sends next. */
  let padding = 0;
  let requests: string[];

  before(async () => {
    key = await createTestKey();
    // A real HTTP server the test controls: the discovery document (padded on demand) and a JWKS far under the cap.
    server = createServer((request, response) => {
      requests.push(request.url ?? '');
      const body =
        request.url === '/.well-known/openid-configuration'
          ? JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks.json`, padding: 'x'.repeat(padding) })
          : JSON.stringify({ keys: [key.publicJwk] });
      response.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    requests = [];
  });

  function verifierAndEvents() {
    const events: KeySetEvent[] = [];
    const verifier = createVerifier({
      issuers: [oidc({ issuer, keySet: { maxBytes } })],
      tokenCache: false,
      onKeySetEvent: (_issuer, event) => events.push(event),
    });
    return { verifier, events };
  }

  const token = () =>
    new SignJWT({ sub: 'someone', scope: 'products/read' })
      .setProtectedHeader({ alg: key.alg, kid: key.kid })
      .setIssuer(issuer)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(key.privateKey);

  it('refuses a discovery document over the cap, before any JWKS fetch, and answers keys_unavailable', async () => {
    padding = maxBytes; // the document is the padding plus its members: over the cap
    const { verifier, events } = verifierAndEvents();
    await assert.rejects(verifier.warmUp(), /openid-configuration .*over the 4096 byte cap/);
    assert.deepEqual(requests, ['/.well-known/openid-configuration'], 'the JWKS was never asked for');
    assert.ok(events.some((e) => e.type === 'fetch_failed' && e.error.includes('byte cap')));
    assert.equal(await outcome(verifier, await token()), 'keys_unavailable');
  });

  it('admits a discovery document under the cap, and the token its JWKS verifies (the control)', async () => {
    padding = maxBytes - 200; // the same document, a little smaller: under the cap
    const { verifier } = verifierAndEvents();
    await verifier.warmUp();
    assert.deepEqual(requests, ['/.well-known/openid-configuration', '/jwks.json']);
    assert.equal(await outcome(verifier, await token()), 'accepted');
  });
});
