import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import cors from '@fastify/cors';
import Fastify from 'fastify';
import {
  cognito,
  createRoutePolicy,
  protectedResourceWellKnown,
  publicAccess,
  requireScopes,
  type AuthenticatorOptions,
} from '@product-service/bearer';
import { bearer } from '@product-service/bearer-fastify';

// Each claim of the README's "Closed by default" section. The key set is given inline and empty: nothing is fetched,
// and any request that needs a token and has none is refused 401.
const options: AuthenticatorOptions = {
  issuers: [cognito({ userPoolId: 'us-east-1_AbC123', clientIds: null, jwks: { keys: [] } })],
};
const metadata = { resource: 'https://api.example.com' };

describe('the Fastify plugin, closed by default', () => {
  it('serves the RFC 9728 metadata route without a token, with no access in its config (RFC 9728 §3)', async () => {
    const app = Fastify();
    await app.register(bearer, options);
    app.get(protectedResourceWellKnown, () => metadata);
    app.get(`${protectedResourceWellKnown}/v1`, () => metadata);
    app.get('/items', () => ({ ok: true }));
    assert.equal((await app.inject(protectedResourceWellKnown)).statusCode, 200);
    assert.deepEqual((await app.inject(protectedResourceWellKnown)).json(), metadata);
    assert.equal((await app.inject(`${protectedResourceWellKnown}/v1`)).statusCode, 200, 'a resource with a path');
    assert.equal((await app.inject('/items')).statusCode, 401, 'negative control: any other route is closed');
    await app.close();
  });

  it('closes the metadata route when its config or a policy rule names an access', async () => {
    const app = Fastify();
    await app.register(bearer, {
      ...options,
      policy: createRoutePolicy([
        { method: 'GET', path: `${protectedResourceWellKnown}/ruled`, access: requireScopes('meta/read') },
      ]),
    });
    app.get(protectedResourceWellKnown, { config: { access: requireScopes('meta/read') } }, () => metadata);
    app.get(`${protectedResourceWellKnown}/ruled`, () => metadata);
    assert.equal((await app.inject(protectedResourceWellKnown)).statusCode, 401);
    assert.equal((await app.inject(`${protectedResourceWellKnown}/ruled`)).statusCode, 401);
    await app.close();
  });

  it('matches the policy against the full URL, prefix included', async () => {
    const app = Fastify();
    await app.register(bearer, {
      ...options,
      policy: createRoutePolicy([{ method: 'GET', path: '/api/health', access: publicAccess }]),
    });
    await app.register((api, _options, done) => (api.get('/health', () => ({ ok: true })), done()), { prefix: '/api' });
    assert.equal((await app.inject('/api/health')).statusCode, 200);
    await app.close();
  });

  it('covers the instance it is registered on and its children, and not a sibling beside it', async () => {
    const app = Fastify();
    await app.register(async (scope) => {
      await scope.register(bearer, options);
      scope.get('/inside', () => ({ ok: true }));
      await scope.register((child, _options, done) => (child.get('/child', () => ({ ok: true })), done()));
    });
    await app.register((sibling, _options, done) => (sibling.get('/beside', () => ({ ok: true })), done()));
    assert.equal((await app.inject('/inside')).statusCode, 401);
    assert.equal((await app.inject('/child')).statusCode, 401);
    assert.equal((await app.inject('/beside')).statusCode, 200, 'open: register the plugin on the root instance');
    await app.close();
  });

  // The Fetch standard sends a CORS preflight without credentials (fetch.spec.whatwg.org, "CORS-preflight fetch"), so
  // it carries no token: @fastify/cors must answer it from its own onRequest hook, which runs before the plugin's
  // only when registered before it.
  const preflight = {
    method: 'OPTIONS',
    url: '/items',
    headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
  } as const;

  it('answers a CORS preflight when @fastify/cors is registered before the plugin', async () => {
    const app = Fastify();
    await app.register(cors, { origin: 'https://app.example' });
    await app.register(bearer, options);
    app.post('/items', () => ({ ok: true }));
    const response = await app.inject(preflight);
    assert.equal(response.statusCode, 204);
    assert.equal(response.headers['access-control-allow-origin'], 'https://app.example');
    assert.equal((await app.inject({ method: 'POST', url: '/items' })).statusCode, 401, 'the route stays closed');
    await app.close();
  });

  it('negative control: refuses the preflight (401, no CORS headers) when @fastify/cors is registered after it', async () => {
    const app = Fastify();
    await app.register(bearer, options);
    await app.register(cors, { origin: 'https://app.example' });
    app.post('/items', () => ({ ok: true }));
    const response = await app.inject(preflight);
    assert.equal(response.statusCode, 401);
    assert.equal(response.headers['access-control-allow-origin'], undefined);
    await app.close();
  });
});
