import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import Router from '@koa/router';
import Koa from 'koa';
import {
  cognito,
  createAuthenticator,
  createRoutePolicy,
  optionalAccess,
  publicAccess,
  requireAnyScope,
  requireGroups,
  requireScopes,
} from '@product-service/bearer';
import { createAuthCounters, createBearerAuth, type AuthState } from '@product-service/bearer-koa';
import {
  cognitoAccessClaims,
  createTestKey,
  startTestIssuer,
  type TestIssuer,
  type TestKey,
} from '@product-service/bearer-testing';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

// The two packages as another service would use them, through their public exports: a Koa app with a route policy
// of its own.
describe('the bearer middleware with a route policy', () => {
  let jwks: TestIssuer;
  let key: TestKey;
  let server: Server;
  let url: string;
  const counters = createAuthCounters();

  before(async () => {
    key = await createTestKey();
    jwks = await startTestIssuer({ keys: [key] });
    const authenticator = createAuthenticator({
      issuers: [cognito({ userPoolId: jwks.userPoolId, issuerBaseUrl: jwks.baseUrl, clientIds: null })],
      realm: 'items',
    });
    const policy = createRoutePolicy([
      { method: 'GET', path: '/open', access: publicAccess },
      { method: 'GET', path: '/items/:id', access: requireScopes('items/read') },
      { method: 'POST', path: '/items', access: requireScopes('items/read', 'items/write') },
      { method: 'GET', path: '/either', access: requireAnyScope('items/read', 'items/admin') },
      { method: 'GET', path: '/admins', access: requireGroups('admins') },
    ]);
    const app = new Koa<AuthState>();
    const router = new Router<AuthState>();
    const ok = (ctx: Koa.ParameterizedContext<AuthState>) => {
      ctx.body = { subject: ctx.state.principal?.subject ?? null };
    };
    router.get('/open', ok).get('/items/:id', ok).post('/items', ok).get('/either', ok).get('/admins', ok);
    app.use(createBearerAuth({ authenticator, policy, counters }));
    app.use(router.routes());
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await jwks.close();
  });

  const token = (overrides: Record<string, unknown> = {}) =>
    jwks.sign(key, cognitoAccessClaims(jwks.issuer, overrides));

  it('lets a public route through without a token', async () => {
    const response = await fetch(`${url}/open`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { subject: null });
  });

  it('puts the verified principal on ctx.state', async () => {
    const response = await fetch(`${url}/items/1`, { headers: bearer(await token({ scope: 'items/read' })) });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { subject: 'test-client' });
  });

  it('answers 403 insufficient_scope naming the missing scope (RFC 6750 §3.1)', async () => {
    const response = await fetch(`${url}/items`, {
      method: 'POST',
      headers: bearer(await token({ scope: 'items/read' })),
    });
    assert.equal(response.status, 403);
    assert.equal(
      response.headers.get('www-authenticate'),
      'Bearer realm="items", error="insufficient_scope", error_description="token lacks the required scope", scope="items/write"',
    );
    assert.deepEqual(await response.json(), {
      error: 'insufficient_scope',
      error_description: 'token lacks the required scope',
    });
  });

  it('needs all of an all-of rule and one of an any-of rule', async () => {
    const both = await token({ scope: 'items/read items/write' });
    assert.equal((await fetch(`${url}/items`, { method: 'POST', headers: bearer(both) })).status, 200);
    const admin = await token({ scope: 'items/admin' });
    assert.equal((await fetch(`${url}/either`, { headers: bearer(admin) })).status, 200);
    const none = await token({ scope: 'other/thing' });
    assert.equal((await fetch(`${url}/either`, { headers: bearer(none) })).status, 403);
  });

  it('checks Cognito groups where a rule names them', async () => {
    assert.equal((await fetch(`${url}/admins`, { headers: bearer(await token()) })).status, 403);
    const admin = await token({ 'cognito:groups': ['users', 'admins'] });
    assert.equal((await fetch(`${url}/admins`, { headers: bearer(admin) })).status, 200);
  });

  it('treats HEAD like GET: it needs the same scope', async () => {
    const response = await fetch(`${url}/items/1`, { method: 'HEAD', headers: bearer(await token({ scope: 'x' })) });
    assert.equal(response.status, 403);
  });

  it('closes what no rule names: 401 without a token, 404 with one', async () => {
    assert.equal((await fetch(`${url}/unlisted`)).status, 401);
    assert.equal((await fetch(`${url}/unlisted`, { headers: bearer(await token()) })).status, 404);
    // A method the policy does not list on a listed path is closed too.
    assert.equal((await fetch(`${url}/open`, { method: 'DELETE' })).status, 401);
  });

  it('refuses a token in the query string with 400 invalid_request (RFC 6750 §2.3, §5.3)', async () => {
    const response = await fetch(`${url}/items/1?access_token=${await token({ scope: 'items/read' })}`);
    assert.equal(response.status, 400);
    const text = await response.text();
    assert.ok(!text.includes('eyJ'), 'the token is not echoed');
  });

  it('refuses two Authorization headers with 400 invalid_request (RFC 6750 §2)', async () => {
    const t = await token({ scope: 'items/read' });
    // Written on a raw socket: HTTP clients merge or refuse repeated headers, a hostile one need not.
    const { port } = new URL(url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(
          `GET /items/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${t}\r\n` +
            `Authorization: Bearer ${t}\r\nConnection: close\r\n\r\n`,
        );
      });
      let received = '';
      socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
      socket.on('end', () => resolve(received));
      socket.on('error', reject);
    });
    const status = Number(answer.split(' ')[1]);
    assert.match(answer, /error="invalid_request"/);
    assert.equal(status, 400);
  });

  it('accepts the scheme name in any case (RFC 9110 §11.1)', async () => {
    const t = await token({ scope: 'items/read' });
    assert.equal((await fetch(`${url}/items/1`, { headers: { authorization: `bearer ${t}` } })).status, 200);
  });

  // Requests of its own, counted from a snapshot: exactly what they add, whatever the tests before it did. A public
  // route is not counted (no token was asked for); a principal refused for its scope counts as a refusal only.
  it('counts accepted requests and refusals by reason, each request once', async () => {
    const before = { accepted: counters.accepted, refused: { ...counters.refused } };
    const reader = await token({ scope: 'items/read' });
    await fetch(`${url}/items/1`, { headers: bearer(reader) }); // accepted
    await fetch(`${url}/items/2`, { headers: bearer(reader) }); // accepted
    await fetch(`${url}/items`, { method: 'POST', headers: bearer(reader) }); // insufficient_scope
    await fetch(`${url}/items/1`); // missing
    await fetch(`${url}/items/1`, { headers: { authorization: 'Basic abc' } }); // malformed
    await fetch(`${url}/open`); // public: neither
    const added = (reason: keyof typeof counters.refused) =>
      (counters.refused[reason] ?? 0) - (before.refused[reason] ?? 0);
    assert.equal(counters.accepted - before.accepted, 2);
    assert.deepEqual(
      { insufficient_scope: added('insufficient_scope'), missing: added('missing'), malformed: added('malformed') },
      { insufficient_scope: 1, missing: 1, malformed: 1 },
    );
    const total = (refused: typeof counters.refused) => Object.values(refused).reduce((sum, n) => sum + n, 0);
    assert.equal(total(counters.refused) - total(before.refused), 3, 'nothing else counted');
  });
});

describe('the bearer middleware with an answer hook and an optional route', () => {
  let jwks: TestIssuer;
  let key: TestKey;
  let server: Server;
  let url: string;

  before(async () => {
    key = await createTestKey();
    jwks = await startTestIssuer({ keys: [key] });
    const authenticator = createAuthenticator({
      issuers: [cognito({ userPoolId: jwks.userPoolId, issuerBaseUrl: jwks.baseUrl, clientIds: null })],
      // The authenticator's own policy, used when the middleware is given none.
      policy: createRoutePolicy([{ method: 'GET', path: '/feed', access: optionalAccess }]),
    });
    const app = new Koa<AuthState>();
    app.use(
      createBearerAuth({
        authenticator,
        // The service's own error writer: the refusal is plain data, written in the service's shape.
        answer: (ctx, refusal) => {
          ctx.status = refusal.status;
          ctx.set(refusal.headers);
          ctx.body = { problem: refusal.body.error, reason: refusal.reason };
        },
      }),
    );
    app.use((ctx) => {
      ctx.body = { subject: ctx.state.principal?.subject ?? null };
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await jwks.close();
  });

  it('writes refusals through the hook, with the RFC 6750 headers', async () => {
    const response = await fetch(`${url}/private`);
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="api"');
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await response.json(), { problem: 'unauthorized', reason: 'missing' });
  });

  it('admits an anonymous caller on an optional route, and refuses a bad token there', async () => {
    assert.deepEqual(await (await fetch(`${url}/feed`)).json(), { subject: null });
    const good = await fetch(`${url}/feed`, { headers: bearer(await jwks.sign(key)) });
    assert.deepEqual(await good.json(), { subject: 'test-client' });
    const forged = await jwks.sign(await createTestKey('RS256', key.kid));
    assert.equal((await fetch(`${url}/feed`, { headers: bearer(forged) })).status, 401);
  });
});

// Claim checks (claimEquals, claimIncludes, claimCheck) and getToken through this adapter are rows of
// test/conformance/cases.ts, run through every adapter alike.
