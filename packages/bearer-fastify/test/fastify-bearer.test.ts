import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance, type onRequestHookHandler } from 'fastify';
import {
  allOf,
  claimCheck,
  claimEquals,
  claimIncludes,
  cognito,
  optionalAccess,
  publicAccess,
  requireScopes,
  type Access,
  type Outcome,
} from '@product-service/bearer';
import * as adapter from '@product-service/bearer-fastify';
import { bearer } from '@product-service/bearer-fastify';
import { createTestKey, startTestIssuer, type TestIssuer } from '@product-service/bearer-testing';

const admitted: Outcome = Object.freeze({ principal: undefined, access: publicAccess });

describe('the public surface of @product-service/bearer-fastify', () => {
  it('exports the plugin and the refusal writer, and nothing else at run time', () => {
    assert.deepEqual(Object.keys(adapter).sort(), ['bearer', 'writeRefusal']);
  });
});

describe('the Fastify plugin', () => {
  it('goes on before its hook returns when the outcome is synchronous: no promise for a remembered token', () => {
    let hook: onRequestHookHandler | undefined;
    const instance = {
      decorateRequest: () => undefined,
      addHook: (_name: string, fn: onRequestHookHandler) => (hook = fn),
    } as unknown as FastifyInstance;
    bearer(instance, { authenticator: { authenticate: () => admitted } }, () => undefined);
    let done = false;
    const request = {
      url: '/x?y=1',
      method: 'GET',
      headers: {},
      raw: { rawHeaders: [] },
      routeOptions: { config: {} },
    };
    const returned: unknown = hook?.call(instance, request as never, {} as never, () => (done = true));
    assert.equal(done, true);
    assert.equal(returned, undefined);
  });

  it('passes each route config access to the core, else the policy access (closed by default)', async () => {
    const seen: (Access | undefined)[] = [];
    const app = Fastify();
    await app.register(bearer, {
      authenticator: { authenticate: (_request, access) => (seen.push(access), admitted) },
      policy: { rules: [], accessFor: () => optionalAccess },
    });
    app.get('/scoped', { config: { access: requireScopes('items/read') } }, (request) => ({
      principal: request.principal ?? null,
    }));
    app.get('/plain', () => ({ ok: true }));
    assert.deepEqual((await app.inject('/scoped')).json(), { principal: null });
    await app.inject('/plain');
    assert.deepEqual(seen, [requireScopes('items/read'), optionalAccess]);
    await app.close();
  });

  it('builds its own authenticator from the options, closed by default', async () => {
    const app = Fastify();
    await app.register(bearer, {
      issuers: [cognito({ userPoolId: 'us-east-1_AbC123', clientIds: null, jwks: { keys: [] } })],
      realm: 'own',
    });
    app.get('/open', { config: { access: publicAccess } }, () => ({ ok: true }));
    app.get('/closed', () => ({ ok: true }));
    assert.equal((await app.inject('/open')).statusCode, 200);
    const closed = await app.inject('/closed');
    assert.equal(closed.statusCode, 401);
    assert.equal(closed.headers['www-authenticate'], 'Bearer realm="own"');
    await app.close();
  });
});

// The core's claim checks in a Fastify route's config, and the core's getToken, through this plugin: the same rules
// as Express's claimEquals / claimIncludes / claimCheck middleware, answered the same way (401 invalid_token).
describe('claim checks and getToken through the Fastify plugin', () => {
  let issuer: TestIssuer;
  let app: FastifyInstance;

  before(async () => {
    issuer = await startTestIssuer({ keys: [await createTestKey()] });
    app = Fastify();
    await app.register(bearer, {
      issuers: [cognito(issuer.cognitoProfile())],
      realm: 'items',
      getToken: (request) => /(?:^|; *)session=([^;]+)/.exec(String(request.headers['cookie'] ?? ''))?.[1],
    });
    const ok = (request: { principal: unknown }) => ({ ok: request.principal !== undefined });
    const org = allOf(requireScopes('items/read'), claimEquals('org_id', 'org_42'));
    app.get('/org', { config: { access: org } }, ok);
    app.get('/mfa', { config: { access: claimIncludes('amr', 'mfa') } }, ok);
    app.get('/acme', { config: { access: claimCheck((claims) => claims['tenant'] === 'acme', 'acme only') } }, ok);
  });
  after(async () => {
    await app.close();
    await issuer.close();
  });

  const status = async (url: string, claims: Record<string, unknown>) => {
    const token = await issuer.cognitoAccessToken(claims);
    const response = await app.inject({ url, headers: { authorization: `Bearer ${token}` } });
    const challenge = response.headers['www-authenticate'];
    return `${response.statusCode} ${typeof challenge === 'string' ? challenge : ''}`.trim();
  };

  it('admits a token that passes the route claim checks and refuses one that fails with 401 invalid_token', async () => {
    assert.equal(await status('/org', { scope: 'items/read', org_id: 'org_42' }), '200');
    assert.match(
      await status('/org', { scope: 'items/read', org_id: 'org_7' }),
      /^401 .*error="invalid_token".*'org_id'/,
    );
    assert.equal(await status('/mfa', { amr: ['pwd', 'mfa'] }), '200');
    assert.match(await status('/mfa', { amr: ['pwd'] }), /^401 .*error="invalid_token"/);
    assert.equal(await status('/acme', { tenant: 'acme' }), '200');
    assert.match(await status('/acme', { tenant: 'umbrella' }), /^401 .*acme only"$/);
  });

  it('takes the token from a cookie when getToken finds it, and still refuses a query token', async () => {
    const token = await issuer.cognitoAccessToken({ amr: ['mfa'] });
    assert.equal((await app.inject({ url: '/mfa', headers: { cookie: `session=${token}` } })).statusCode, 200);
    assert.equal((await app.inject({ url: `/mfa?access_token=${token}` })).statusCode, 400);
  });
});
