import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { base64url, exportSPKI, SignJWT } from 'jose';
import { cognito } from '@product-service/bearer';
import {
  cognitoAccessClaims,
  createTestKey,
  startTestIssuer,
  type TestIssuer,
  type TestKey,
} from '@product-service/bearer-testing';
import { bearer, configTrusting, startService, type RunningService } from './support/service.js';

const encode = (value: unknown): string => base64url.encode(JSON.stringify(value));

// Each refusal is a 401 with error="invalid_token": a token that was sent and is no good (RFC 6750 §3.1).
describe('refused tokens', () => {
  let jwks: TestIssuer;
  let key: TestKey;
  let running: RunningService;

  before(async () => {
    key = await createTestKey();
    jwks = await startTestIssuer({ keys: [key] });
    running = await startService(configTrusting([cognito(jwks.cognitoProfile())]));
  });
  after(async () => {
    await running.close();
    await jwks.close();
  });

  async function call(token: string): Promise<Response> {
    return fetch(`${running.url}/anything`, { headers: bearer(token) });
  }

  async function assertInvalidToken(token: string, description?: string): Promise<void> {
    const response = await call(token);
    assert.equal(response.status, 401);
    const challenge = response.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /^Bearer realm="product-service", error="invalid_token", error_description="[^"]+"$/);
    const body = (await response.json()) as { error: string; error_description: string };
    assert.equal(body.error, 'invalid_token');
    if (description) assert.equal(body.error_description, description);
    // The answer never echoes the token or any part of it.
    const [, , signature] = token.split('.');
    const text = JSON.stringify(body) + challenge;
    assert.ok(!text.includes(token));
    if (signature && signature.length > 16) assert.ok(!text.includes(signature));
  }

  it('accepts a well-formed token signed by the trusted key (the control case for everything below)', async () => {
    const response = await call(await jwks.sign(key));
    assert.equal(response.status, 404);
  });

  it('refuses an expired token (RFC 7519 §4.1.4)', async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    await assertInvalidToken(
      await jwks.sign(key, cognitoAccessClaims(jwks.issuer, { iat: past - 3600, exp: past })),
      'token expired',
    );
  });

  it('refuses a token signed by another key under the trusted kid', async () => {
    const impostor = await createTestKey('RS256', key.kid);
    await assertInvalidToken(await jwks.sign(impostor), 'token signature invalid');
  });

  it('refuses alg "none", an unsecured JWT (RFC 8725 §2.1, §3.1)', async () => {
    const token = `${encode({ alg: 'none', kid: key.kid })}.${encode(cognitoAccessClaims(jwks.issuer))}.`;
    await assertInvalidToken(token, 'token algorithm not accepted');
  });

  it('refuses HS256 signed with the RSA public key as the HMAC secret: algorithm confusion (RFC 8725 §2.1, CVE-2015-9235)', async () => {
    const secret = new TextEncoder().encode(
      await exportSPKI(
        await crypto.subtle.importKey('jwk', key.publicJwk, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, true, [
          'verify',
        ]),
      ),
    );
    const token = await new SignJWT(cognitoAccessClaims(jwks.issuer))
      .setProtectedHeader({ alg: 'HS256', kid: key.kid })
      .sign(secret);
    await assertInvalidToken(token, 'token algorithm not accepted');
  });

  it('refuses a token from an issuer that is not configured, without fetching anything for it (RFC 8725 §3.8)', async () => {
    const before = jwks.requests.jwks;
    await assertInvalidToken(
      await jwks.sign(key, cognitoAccessClaims('https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other')),
      'token issuer not accepted',
    );
    assert.equal(jwks.requests.jwks, before);
  });

  it('refuses a Cognito ID token where an access token is required (token_use, RFC 8725 §2.8)', async () => {
    await assertInvalidToken(
      await jwks.sign(key, cognitoAccessClaims(jwks.issuer, { token_use: 'id', aud: 'test-client' })),
      'token use not accepted',
    );
  });

  it('refuses a token without exp: every token must expire', async () => {
    const claims = cognitoAccessClaims(jwks.issuer);
    delete claims.exp;
    await assertInvalidToken(await jwks.sign(key, claims), 'token claims invalid');
  });

  it('refuses a token whose payload was changed after signing', async () => {
    const [header, , signature] = (await jwks.sign(key)).split('.');
    const forged = encode(cognitoAccessClaims(jwks.issuer, { scope: 'products/read products/write admin' }));
    await assertInvalidToken(`${header}.${forged}.${signature}`, 'token signature invalid');
  });

  it('refuses a garbage string', async () => {
    await assertInvalidToken('not-a-jwt', 'token malformed');
    await assertInvalidToken('a.b.c', 'token malformed');
  });

  for (const [name, header] of [
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['the scheme without a token', 'Bearer'],
    ['two tokens', 'Bearer abc def'],
    ['characters outside b64token', 'Bearer abc$def'],
  ] as const) {
    it(`answers a malformed Authorization header (${name}) with 400 invalid_request (RFC 6750 §3.1)`, async () => {
      const response = await fetch(`${running.url}/anything`, { headers: { authorization: header } });
      assert.equal(response.status, 400);
      assert.match(response.headers.get('www-authenticate') ?? '', /error="invalid_request"/);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_request');
    });
  }
});
describe('HTTP answers when keys cannot be had', () => {
  let jwks: TestIssuer;
  before(async () => {
    jwks = await startTestIssuer({ keys: [] });
    await jwks.setMode('down');
  });
  after(() => jwks.close());

  it('answers 503 with Retry-After, not 401, when the issuer is down and nothing is cached; /ready says 503', async () => {
    const running = await startService(configTrusting([cognito(jwks.cognitoProfile())]));
    try {
      const key = await createTestKey();
      const response = await fetch(`${running.url}/anything`, { headers: bearer(await jwks.sign(key)) });
      assert.equal(response.status, 503);
      assert.match(response.headers.get('retry-after') ?? '', /^\d+$/);
      assert.equal(((await response.json()) as { error: string }).error, 'temporarily_unavailable');
      const ready = await fetch(`${running.url}/ready`);
      assert.equal(ready.status, 503);
      await jwks.setMode('ok');
      jwks.publish([key]);
    } finally {
      await running.close();
    }
  });
});
