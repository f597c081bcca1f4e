import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  authenticatedAccess,
  cognito,
  createAuthenticator,
  createRoutePolicy,
  optionalAccess,
  publicAccess,
  requireGroups,
  requireScopes,
  type Authenticator,
  type AuthRequest,
} from '../src/index.js';
import {
  cognitoAccessClaims,
  createTestKey,
  startTestIssuer,
  type TestIssuer,
  type TestKey,
} from '@product-service/bearer-testing';
import { refusalOf } from './support/outcome.js';

const get = (path: string, headers: AuthRequest['headers'] = {}, more: Partial<AuthRequest> = {}): AuthRequest => ({
  method: 'GET',
  path,
  headers,
  ...more,
});

// The core's one call, as every framework adapter uses it: a request in, `{ principal }` or `{ refusal }` out, the
// refusal plain data an adapter writes as it is (RFC 6750 §3).
describe('authenticate(): refusals as data, for each status', () => {
  let jwks: TestIssuer;
  let key: TestKey;
  let auth: Authenticator;

  before(async () => {
    key = await createTestKey();
    jwks = await startTestIssuer({ keys: [key] });
    auth = createAuthenticator({
      issuers: [cognito({ userPoolId: jwks.userPoolId, issuerBaseUrl: jwks.baseUrl, clientIds: null })],
      realm: 'items',
      policy: createRoutePolicy([
        { method: 'GET', path: '/open', access: publicAccess },
        { method: 'GET', path: '/maybe', access: optionalAccess },
        { method: 'GET', path: '/write', access: requireScopes('items/write') },
        { method: 'GET', path: '/admins', access: requireGroups('admins') },
      ]),
    });
    await auth.warmUp();
  });
  after(() => jwks.close());

  const token = (overrides: Record<string, unknown> = {}) =>
    jwks.sign(key, cognitoAccessClaims(jwks.issuer, overrides));
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

  it('401 without credentials: a challenge with the realm and no error code (RFC 6750 §3.1)', async () => {
    assert.deepEqual(await refusalOf(auth.authenticate(get('/unlisted'))), {
      reason: 'missing',
      status: 401,
      headers: { 'Cache-Control': 'no-store', 'WWW-Authenticate': 'Bearer realm="items"' },
      body: { error: 'unauthorized', error_description: 'a bearer token is required' },
    });
  });

  it('400 invalid_request for a malformed header, a token in the query, or two headers (RFC 6750 §2.1, §2.3, §3.1)', async () => {
    const challenge = 'Bearer realm="items", error="invalid_request", error_description="malformed bearer credentials"';
    const t = await token();
    for (const request of [
      get('/unlisted', { authorization: 'Basic dXNlcjpwYXNz' }),
      get('/unlisted', bearer(t), { query: `x=1&access_token=${t}` }),
      get('/unlisted', bearer(t), { rawHeaders: ['Authorization', `Bearer ${t}`, 'authorization', `Bearer ${t}`] }),
    ]) {
      const refusal = await refusalOf(auth.authenticate(request));
      assert.equal(refusal.status, 400);
      assert.equal(refusal.reason, 'malformed');
      assert.equal(refusal.headers['WWW-Authenticate'], challenge);
      assert.deepEqual(refusal.body, { error: 'invalid_request', error_description: 'malformed bearer credentials' });
    }
  });

  it('401 invalid_token for a bad token, with the reason for the log and never the token in the answer', async () => {
    const t = await token({ exp: Math.floor(Date.now() / 1000) - 3600 });
    const refusal = await refusalOf(auth.authenticate(get('/unlisted', bearer(t))));
    assert.equal(refusal.status, 401);
    assert.equal(refusal.reason, 'expired');
    assert.equal(
      refusal.headers['WWW-Authenticate'],
      'Bearer realm="items", error="invalid_token", error_description="token expired"',
    );
    assert.ok(!JSON.stringify(refusal).includes(t.split('.')[2] ?? ''), 'the signature is not echoed');
  });

  it('403 insufficient_scope naming the missing scope in scope= (RFC 6750 §3, §3.1)', async () => {
    const settled = await auth.authenticate(get('/write', bearer(await token({ scope: 'items/read' }))));
    assert.ok('refusal' in settled);
    assert.equal(settled.refusal.status, 403);
    assert.equal(
      settled.refusal.headers['WWW-Authenticate'],
      'Bearer realm="items", error="insufficient_scope", error_description="token lacks the required scope", scope="items/write"',
    );
    assert.equal(settled.principal?.subject, 'test-client', 'the valid token’s principal, for the log');
  });

  it('403 for a missing group, naming the groups the rule asks for (never anything from the token)', async () => {
    const refusal = await refusalOf(auth.authenticate(get('/admins', bearer(await token()))));
    assert.equal(refusal.status, 403);
    assert.equal(refusal.reason, 'group_not_allowed');
    assert.equal(refusal.body.error_description, 'token lacks the required group: one of admins');
  });

  it('503 with Retry-After and no challenge when no keys can be had (RFC 9110 §15.6.4, §10.2.3)', async () => {
    const down = await startTestIssuer({ userPoolId: 'local_Down', keys: [] });
    await down.setMode('down');
    try {
      const outage = createAuthenticator({
        issuers: [cognito({ userPoolId: down.userPoolId, issuerBaseUrl: down.baseUrl, clientIds: null })],
      });
      const refusal = await refusalOf(outage.authenticate(get('/x', bearer(await down.sign(key)))));
      assert.equal(refusal.status, 503);
      assert.equal(refusal.reason, 'keys_unavailable');
      assert.match(refusal.headers['Retry-After'] ?? '', /^\d+$/);
      assert.equal(refusal.headers['WWW-Authenticate'], undefined);
      assert.equal(refusal.body.error, 'temporarily_unavailable');
      assert.equal(outage.ready(), false);
    } finally {
      await down.close();
    }
  });

  it('admits with the principal, synchronously for a token it verified before', async () => {
    const t = await token();
    const first = await auth.authenticate(get('/unlisted', bearer(t)));
    assert.ok('principal' in first && first.principal?.subject === 'test-client');
    const again = auth.authenticate(get('/unlisted', bearer(t)));
    assert.ok(!(again instanceof Promise), 'a remembered token is answered without a promise');
    assert.equal('principal' in again ? again.principal?.subject : undefined, 'test-client');
  });

  it('checks an explicit access rule instead of the path policy (a framework’s per-route rule)', async () => {
    const t = await token({ scope: 'items/read' });
    assert.equal(
      (await refusalOf(auth.authenticate(get('/open', bearer(t)), requireScopes('items/write')))).status,
      403,
    );
    const admitted = await auth.authenticate(get('/write', bearer(t)), authenticatedAccess);
    assert.ok('principal' in admitted && admitted.principal !== undefined);
  });

  it('lets a public route through without reading the token at all', () => {
    assert.deepEqual(auth.authenticate(get('/open', { authorization: 'garbage' })), {
      principal: undefined,
      access: publicAccess,
    });
  });
});

describe('optional authentication', () => {
  let jwks: TestIssuer;
  let key: TestKey;
  let auth: Authenticator;

  before(async () => {
    key = await createTestKey();
    jwks = await startTestIssuer({ keys: [key] });
    auth = createAuthenticator({
      issuers: [cognito({ userPoolId: jwks.userPoolId, issuerBaseUrl: jwks.baseUrl, clientIds: null })],
    });
  });
  after(() => jwks.close());

  it('admits a request without credentials anonymously, at once', () => {
    assert.deepEqual(auth.authenticate(get('/feed'), optionalAccess), { principal: undefined, access: optionalAccess });
  });

  it('admits a good token with its principal', async () => {
    const admitted = await auth.authenticate(
      get('/feed', { authorization: `Bearer ${await jwks.sign(key)}` }),
      optionalAccess,
    );
    assert.equal('principal' in admitted ? admitted.principal?.subject : undefined, 'test-client');
  });

  it('still refuses a bad token (401) and malformed credentials (400): sending credentials means they are checked', async () => {
    const forged = await jwks.sign(await createTestKey('RS256', key.kid));
    const bad = await refusalOf(auth.authenticate(get('/feed', { authorization: `Bearer ${forged}` }), optionalAccess));
    assert.deepEqual([bad.status, bad.reason], [401, 'bad_signature']);
    const malformed = await refusalOf(auth.authenticate(get('/feed', { authorization: 'Bearer' }), optionalAccess));
    assert.deepEqual([malformed.status, malformed.reason], [400, 'malformed']);
  });
});

// Refusing used to set Error.stackTraceLimit to 0 and back around each refusal: a process-wide setting changed under
// every other module's feet, for the verifier's own speed. Refusals are values now, and that setting is never touched.
describe('no process-wide side effects', () => {
  it('leaves Error.stackTraceLimit as it was, through refusals of every kind: no write to it at all', async () => {
    const key = await createTestKey();
    const jwks = await startTestIssuer({ keys: [key] });
    const descriptor = Object.getOwnPropertyDescriptor(Error, 'stackTraceLimit');
    // Every write is recorded, even one put back at once (as the old refusal did).
    const writes: unknown[] = [];
    Object.defineProperty(Error, 'stackTraceLimit', {
      configurable: true,
      get: () => 10,
      set: (value: unknown) => writes.push(value),
    });
    try {
      const auth = createAuthenticator({
        issuers: [cognito({ userPoolId: jwks.userPoolId, issuerBaseUrl: jwks.baseUrl, clientIds: null })],
      });
      await auth.warmUp();
      const t = await jwks.sign(key);
      const reasons = [];
      for (const authorization of [
        undefined,
        'Basic x',
        `Bearer ${t}x`,
        `Bearer ${t.slice(0, 20)}`,
        `Bearer ${await jwks.sign(key, cognitoAccessClaims(jwks.issuer, { token_use: 'id' }))}`,
        `Bearer ${await jwks.sign(await createTestKey())}`,
      ]) {
        const refusal = await refusalOf(auth.authenticate(get('/x', authorization ? { authorization } : {})));
        reasons.push(refusal.reason);
      }
      assert.deepEqual(reasons, [
        'missing',
        'malformed',
        'bad_signature',
        'malformed_token',
        'wrong_token_use',
        'unknown_kid',
      ]);
      assert.deepEqual(writes, []);
    } finally {
      if (descriptor) Object.defineProperty(Error, 'stackTraceLimit', descriptor);
      await jwks.close();
    }
  });
});
