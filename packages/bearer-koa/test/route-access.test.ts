import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import cors from '@koa/cors';
import Router from '@koa/router';
import Koa from 'koa';
import {
  cognito,
  createAuthenticator,
  protectedResourceMetadata,
  protectedResourceWellKnown,
  publicAccess,
  requireScopes,
  type Authenticator,
} from '@product-service/bearer';
import {
  access,
  createBearerAuth,
  declaredRules,
  type AuthState,
  type BearerAuthExtras,
} from '@product-service/bearer-koa';
import { createTestKey, startTestIssuer, type TestIssuer, type TestKey } from '@product-service/bearer-testing';

const ok = (ctx: Koa.ParameterizedContext<AuthState>) =>
  void (ctx.body = { subject: ctx.state.principal?.subject ?? null });

/** The routes every app below serves: each declares its access once, on itself, as a Fastify route's config does. */
function routes(): Router<AuthState> {
  const router = new Router<AuthState>();
  router.get('/open', access(publicAccess), ok);
  router.get('/items', access(requireScopes('items/read')), ok);
  router.post('/items', access(requireScopes('items/write')), ok);
  // Declares nothing: closed by default, as a route forgotten in a policy is.
  router.get('/undeclared', ok);
  // A public route whose handler hands one name over to the next matching route, which declares nothing.
  router.get('/files/:name', access(publicAccess), (ctx, next) => (ctx.params.name === 'secret' ? next() : ok(ctx)));
  router.get('/files/secret', ok);
  router.get(protectedResourceWellKnown, (ctx) => void (ctx.body = { resource: 'http://127.0.0.1' }));
  router.get(`${protectedResourceWellKnown}/closed`, access(requireScopes('meta/read')), ok);
  return router;
}

async function serve(app: Koa<AuthState>): Promise<{ url: string; server: Server }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('Koa routes that declare their access with access() (one declaration per route)', () => {
  let jwks: TestIssuer;
  let key: TestKey;
  let authenticator: Authenticator;
  const servers: Server[] = [];
  let checks = 0;

  before(async () => {
    key = await createTestKey();
    jwks = await startTestIssuer({ keys: [key] });
    authenticator = createAuthenticator({ issuers: [cognito(jwks.cognitoProfile({ clientIds: null }))] });
  });
  after(async () => {
    await Promise.all(servers.map(stop));
    await jwks.close();
  });

  async function start(options: BearerAuthExtras = {}, before?: Koa.Middleware<AuthState>) {
    const app = new Koa<AuthState>();
    if (before) app.use(before);
    const router = routes();
    const counted: Authenticator['authenticate'] = (request, rule) => (
      (checks += 1),
      authenticator.authenticate(request, rule)
    );
    app.use(createBearerAuth({ authenticator: { authenticate: counted }, router, ...options }));
    app.use(router.routes());
    const { url, server } = await serve(app);
    servers.push(server);
    return url;
  }
  const bearer = async (scope: string) => ({
    authorization: `Bearer ${await jwks.cognitoAccessToken({ scope })}`,
  });

  it('opens a route declared public, without a token', async () => {
    const url = await start();
    const response = await fetch(`${url}/open`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { subject: null });
  });

  it('asks a declared route for its scopes: 401 without a token, 403 without the scope, 200 with it', async () => {
    const url = await start();
    assert.equal((await fetch(`${url}/items`)).status, 401);
    const lacking = await fetch(`${url}/items`, { headers: await bearer('other/scope') });
    assert.equal(lacking.status, 403);
    assert.match(lacking.headers.get('www-authenticate') ?? '', /error="insufficient_scope".*scope="items\/read"/);
    assert.equal((await fetch(`${url}/items`, { headers: await bearer('items/read') })).status, 200);
    assert.equal((await fetch(`${url}/items`, { method: 'POST', headers: await bearer('items/read') })).status, 403);
    assert.equal((await fetch(`${url}/items`, { method: 'POST', headers: await bearer('items/write') })).status, 200);
  });

  it('checks the token once per request when the middleware has the router', async () => {
    const url = await start();
    const headers = await bearer('items/read');
    checks = 0;
    assert.equal((await fetch(`${url}/items`, { headers })).status, 200);
    assert.equal(checks, 1);
  });

  it('negative control: keeps a route that declares nothing closed (401 without a token, 200 with one)', async () => {
    const url = await start();
    assert.equal((await fetch(`${url}/undeclared`)).status, 401);
    assert.equal((await fetch(`${url}/undeclared`, { headers: await bearer('any') })).status, 200);
  });

  it('keeps closed a path no route matches: 401 without a token, 404 with one', async () => {
    const url = await start();
    assert.equal((await fetch(`${url}/nowhere`)).status, 401);
    assert.equal((await fetch(`${url}/nowhere`, { headers: await bearer('any') })).status, 404);
  });

  it('keeps closed a public route that a route declaring nothing also matches, since its handler may hand over', async () => {
    const url = await start();
    assert.equal((await fetch(`${url}/files/readme`)).status, 200, 'only the public route matches');
    assert.equal((await fetch(`${url}/files/secret`)).status, 401, 'the undeclared /files/secret may run');
    assert.equal((await fetch(`${url}/files/secret`, { headers: await bearer('any') })).status, 200);
  });

  it('serves the RFC 9728 metadata without a token, and closes it when its route declares access (RFC 9728 §3)', async () => {
    const url = await start();
    const metadata = await fetch(`${url}${protectedResourceWellKnown}`);
    assert.equal(metadata.status, 200);
    assert.deepEqual(await metadata.json(), { resource: 'http://127.0.0.1' });
    assert.equal((await fetch(`${url}${protectedResourceWellKnown}/closed`)).status, 401);
  });

  it("with a router that is not the routes' own, still checks a declared route against its own access, and fails closed on a public one", async () => {
    const url = await start({ router: new Router<AuthState>() });
    assert.equal((await fetch(`${url}/items`, { headers: await bearer('other/scope') })).status, 403);
    assert.equal((await fetch(`${url}/items`, { headers: await bearer('items/read') })).status, 200);
    assert.equal((await fetch(`${url}/open`)).status, 401, 'pass the router to open a public route');
  });

  it('answers 500, not the route, when access() runs without the middleware before it', async () => {
    const app = new Koa<AuthState>();
    app.silent = true;
    const router = routes();
    app.use(router.routes());
    const { url, server } = await serve(app);
    servers.push(server);
    assert.equal((await fetch(`${url}/open`)).status, 500);
  });

  it("lists the routes that declare an access as policy rules, for the RFC 9728 document's scopes_supported", () => {
    const rules = declaredRules(routes());
    const items = rules.filter((rule) => rule.path === '/items');
    assert.deepEqual(
      items.map(({ method, access: rule }) => [method, rule]),
      [
        ['GET', requireScopes('items/read')],
        ['POST', requireScopes('items/write')],
      ],
    );
    assert.ok(!rules.some((rule) => rule.path === '/undeclared'), 'a route that declares nothing has no rule');
    assert.deepEqual(
      protectedResourceMetadata({ resource: 'https://api.example.com', policy: { rules } }).scopes_supported,
      ['items/read', 'items/write', 'meta/read'],
    );
  });

  // The Fetch standard sends a CORS preflight without credentials (fetch.spec.whatwg.org, "CORS-preflight fetch"), so
  // it can carry no token: it has to be answered before the bearer middleware runs.
  const preflight = {
    method: 'OPTIONS',
    headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
  };

  it('answers a CORS preflight when @koa/cors comes before the middleware', async () => {
    const url = await start({}, cors({ origin: 'https://app.example' }) as Koa.Middleware<AuthState>);
    const response = await fetch(`${url}/items`, preflight);
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('access-control-allow-origin'), 'https://app.example');
  });

  it('negative control: refuses the preflight (401, no CORS headers) when @koa/cors comes after it', async () => {
    const app = new Koa<AuthState>();
    const router = routes();
    app.use(createBearerAuth({ authenticator, router }));
    app.use(cors({ origin: 'https://app.example' }));
    app.use(router.routes());
    const { url, server } = await serve(app);
    servers.push(server);
    const response = await fetch(`${url}/items`, preflight);
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('access-control-allow-origin'), null);
  });
});
