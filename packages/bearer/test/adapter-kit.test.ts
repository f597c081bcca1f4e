import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cognito,
  createAuthenticator,
  createRoutePolicy,
  optionalAccess,
  publicAccess,
  requireScopes,
  type Access,
  type AuthRequest,
  type Outcome,
} from '@product-service/bearer';
import { createGate, settle, toAuthRequest, type Settlement } from '@product-service/bearer/adapter';

// A real authenticator with an empty key set given inline: nothing is fetched, and a request without a token is
// refused (401) wherever a token is needed, so what a test sees is whether the gate asked for one.
const issuers = [
  cognito({ userPoolId: 'local_Kit', issuerBaseUrl: 'http://127.0.0.1:9', clientIds: null, jwks: { keys: [] } }),
];
const get = (path: string, method = 'GET'): AuthRequest => ({ method, path, headers: {} });
const statusOf = async (outcome: Outcome | Promise<Outcome>) => {
  const settled = await outcome;
  return 'refusal' in settled ? settled.refusal.status : 200;
};
const metadataPath = '/.well-known/oauth-protected-resource';

describe('the adapter kit: createGate', () => {
  it('builds the authenticator from its options, or takes yours', async () => {
    const fromOptions = createGate({
      issuers,
      policy: createRoutePolicy([{ method: 'GET', path: '/open', access: publicAccess }]),
    });
    assert.equal(await statusOf(fromOptions.check(get('/open'))), 200);
    assert.equal(await statusOf(fromOptions.check(get('/closed'))), 401);
    const seen: (Access | undefined)[] = [];
    const authenticator = createAuthenticator({ issuers });
    const yours = createGate({
      authenticator: {
        authenticate: (request, access) => (seen.push(access), authenticator.authenticate(request, access)),
      },
    });
    assert.equal(await statusOf(yours.check(get('/closed'))), 401);
    assert.deepEqual(seen, [undefined], 'without a policy of its own, the authenticator decides');
  });

  it('serves the RFC 9728 metadata without a token, at the well-known path and under it (RFC 9728 §3, §3.1)', async () => {
    for (const options of [{ issuers }, { issuers, policy: createRoutePolicy([]) }]) {
      const gate = createGate(options);
      assert.equal(await statusOf(gate.check(get(metadataPath))), 200);
      assert.equal(await statusOf(gate.check(get(`${metadataPath}/v1`))), 200);
      assert.equal(await statusOf(gate.check(get(metadataPath, 'HEAD'))), 200, 'HEAD is a GET without a body');
    }
  });

  it('negative controls: keeps closed what is not the metadata, and a metadata path a route or rule names', async () => {
    const gate = createGate({ issuers });
    for (const [path, method] of [
      [`${metadataPath}x`, 'GET'],
      ['/.well-known/openid-configuration', 'GET'],
      [metadataPath, 'POST'],
      [`/v1${metadataPath}`, 'GET'],
    ] as const) {
      assert.equal(await statusOf(gate.check(get(path, method))), 401, `${method} ${path}`);
    }
    assert.equal(await statusOf(gate.check(get(metadataPath), requireScopes('meta/read'))), 401, 'the route names it');
    const ruled = createGate({
      issuers,
      policy: createRoutePolicy([{ method: 'GET', path: metadataPath, access: requireScopes('meta/read') }]),
    });
    assert.equal(await statusOf(ruled.check(get(metadataPath))), 401, 'a rule of the policy names it');
  });

  it('gives a route its own access before the policy', async () => {
    const gate = createGate({
      issuers,
      policy: createRoutePolicy([{ method: '*', path: '/x', access: publicAccess }]),
    });
    assert.equal(await statusOf(gate.check(get('/x'), requireScopes('x'))), 401);
    assert.equal(await statusOf(gate.check(get('/y'), optionalAccess)), 200);
  });
});

describe('the adapter kit: toAuthRequest', () => {
  it('splits the path from the query string, and hands the headers over as they are', () => {
    const headers = { authorization: 'Bearer x' };
    const rawHeaders = ['Authorization', 'Bearer x'];
    assert.deepEqual(toAuthRequest({ method: 'POST', url: '/items/1?a=b&c', headers, rawHeaders }), {
      method: 'POST',
      path: '/items/1',
      query: 'a=b&c',
      headers,
      rawHeaders,
    });
    const bare = toAuthRequest({ method: undefined, url: undefined, headers, rawHeaders });
    assert.deepEqual([bare.method, bare.path, bare.query], ['GET', '/', '']);
    assert.equal(bare.headers, headers, 'not copied');
    assert.equal(toAuthRequest({ url: '/a?', headers, rawHeaders }).query, '');
  });
});

describe('the adapter kit: settle', () => {
  const settlement: Settlement<[string[]], string> = {
    admit: (principal, log) => (log.push(`admit ${principal?.subject ?? 'anonymous'}`), 'went on'),
    refuse: (refusal, _principal, log) => (log.push(`refuse ${refusal.status}`), 'answered'),
  };

  it('settles an outcome given at once at once, with no promise, and one given later when it comes', async () => {
    const gate = createGate({ issuers });
    const log: string[] = [];
    const now = gate.check(get('/closed'));
    assert.ok(!(now instanceof Promise), 'a refusal before any key is needed comes at once');
    assert.equal(settle(now, settlement, log), 'answered');
    const later = settle(Promise.resolve<Outcome>({ principal: undefined, access: publicAccess }), settlement, log);
    assert.ok(later instanceof Promise);
    assert.equal(await later, 'went on');
    assert.deepEqual(log, ['refuse 401', 'admit anonymous']);
  });

  it('rejects when the outcome does, for the adapter to report as its framework reports errors', async () => {
    await assert.rejects(
      Promise.resolve(settle(Promise.reject(new Error('key set broke')), settlement, [])),
      /key set broke/,
    );
  });
});
