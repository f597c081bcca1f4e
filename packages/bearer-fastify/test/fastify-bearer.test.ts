import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify, { type FastifyInstance, type onRequestHookHandler } from 'fastify';
import {
  cognito,
  optionalAccess,
  publicAccess,
  requireScopes,
  type Access,
  type Outcome,
} from '@product-service/bearer';
import * as adapter from '@product-service/bearer-fastify';
import { bearer } from '@product-service/bearer-fastify';

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

// Claim checks (claimEquals, claimIncludes, claimCheck) and getToken through this adapter are rows of
// test/conformance/cases.ts, run through every adapter alike.
