import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  cognito,
  createAuthenticator,
  createRoutePolicy,
  protectedResourceMetadata,
  protectedResourceMetadataPath,
  protectedResourceMetadataUrl,
  publicAccess,
  requireAnyScope,
  requireScopes,
  rfc9068,
  stepUp,
  type Authenticator,
  type AuthRequest,
} from '../src/index.js';
import { bearer } from './support/requests.js';
import { refusalOf } from './support/outcome.js';
import {
  cognitoAccessClaims,
  createTestKey,
  startTestIssuer,
  type TestIssuer,
  type TestKey,
} from '@product-service/bearer-testing';

const policy = createRoutePolicy([
  { method: 'GET', path: '/health', access: publicAccess },
  { method: 'GET', path: '/items', access: requireScopes('items/read') },
  { method: 'POST', path: '/items', access: requireScopes('items/write', 'items/read') },
  {
    method: 'DELETE',
    path: '/items/:id',
    access: stepUp(requireAnyScope('items/admin', 'items/write'), { maxAgeSec: 60 }),
  },
]);

describe('protected resource metadata (RFC 9728)', () => {
  it('builds the §2 document from the issuers and the route policy: scopes sorted, each once; header only', () => {
    const issuers = [
      rfc9068({ issuer: 'https://as.example.com', audience: ['https://api.example.com'] }),
      rfc9068({ issuer: 'https://as.example.com', audience: ['https://api.example.com'] }),
      cognito({ userPoolId: 'local_Pool', issuerBaseUrl: 'https://cognito.example.com', clientIds: null }),
    ];
    const document = protectedResourceMetadata({
      resource: 'https://api.example.com',
      issuers,
      policy,
      resourceName: 'Items',
      resourceDocumentation: 'https://api.example.com/docs',
    });
    assert.deepEqual(document, {
      resource: 'https://api.example.com',
      authorization_servers: ['https://as.example.com', 'https://cognito.example.com/local_Pool'],
      scopes_supported: ['items/admin', 'items/read', 'items/write'],
      bearer_methods_supported: ['header'],
      resource_name: 'Items',
      resource_documentation: 'https://api.example.com/docs',
    });
    assert.ok(Object.isFrozen(document));
    assert.equal(JSON.stringify(document).includes('resource_signing_alg_values_supported'), false);
  });

  it('leaves out members with zero values (§3.2) and gives the resource back exactly as configured (§3.3)', () => {
    assert.deepEqual(protectedResourceMetadata({ resource: 'https://api.example.com/' }), {
      resource: 'https://api.example.com/',
      bearer_methods_supported: ['header'],
    });
  });

  it('inserts the well-known suffix between the host and the path (§3.1)', () => {
    assert.equal(protectedResourceMetadataPath('https://api.example.com'), '/.well-known/oauth-protected-resource');
    assert.equal(protectedResourceMetadataPath('https://api.example.com/'), '/.well-known/oauth-protected-resource');
    assert.equal(
      protectedResourceMetadataUrl('https://api.example.com/v1/items'),
      'https://api.example.com/.well-known/oauth-protected-resource/v1/items',
    );
    // Only the slash that ends a host-only identifier goes; a path's own trailing slash is part of it.
    assert.equal(
      protectedResourceMetadataUrl('https://api.example.com:8443/v1/'),
      'https://api.example.com:8443/.well-known/oauth-protected-resource/v1/',
    );
    assert.equal(
      protectedResourceMetadataUrl('http://localhost:3000'),
      'http://localhost:3000/.well-known/oauth-protected-resource',
    );
  });

  it('refuses a resource identifier that is not an https URL without fragment or query (§1.2)', () => {
    for (const resource of [
      'api.example.com',
      'http://api.example.com',
      'https://api.example.com/#x',
      'https://api.example.com/?tenant=1',
      'https://user:pw@api.example.com',
    ]) {
      assert.throws(() => protectedResourceMetadata({ resource }), TypeError, resource);
      assert.throws(() => protectedResourceMetadataPath(resource), TypeError, resource);
    }
  });
});

// RFC 9728 §5.1 defines resource_metadata as a WWW-Authenticate parameter; its example is RFC 6750's 401, and nothing
// in it limits the parameter to that status. So it is in every challenge: 401, and the 400 and 403 too.
describe('resource_metadata in every challenge (RFC 9728 §5.1)', () => {
  let jwks: TestIssuer;
  let key: TestKey;
  let auth: Authenticator;
  const url = 'https://api.example.com/.well-known/oauth-protected-resource';
  const get = (path: string, headers: AuthRequest['headers'] = {}, method = 'GET'): AuthRequest => ({
    method,
    path,
    headers,
  });

  before(async () => {
    jwks = await startTestIssuer({ keys: [] });
    key = await createTestKey();
    jwks.publish([key]);
    auth = createAuthenticator({
      issuers: [cognito(jwks.cognitoProfile())],
      realm: 'items',
      policy,
      resourceMetadataUrl: url,
      // Only the Bearer challenge here; the DPoP one beside it (same parameters, plus algs) is test/dpop.test.ts's.
      dpop: false,
    });
    await auth.warmUp();
  });
  after(() => jwks.close());

  const token = (claims: Record<string, unknown> = {}) => jwks.sign(key, cognitoAccessClaims(jwks.issuer, claims));

  it('names it in the 401 without credentials, after the realm', async () => {
    const refusal = await refusalOf(auth.authenticate(get('/items')));
    assert.equal(refusal.headers['WWW-Authenticate'], `Bearer realm="items", resource_metadata="${url}"`);
  });

  it('names it in the 401 for a bad token, the 400 and the 403, and the step-up 401 (RFC 9470 §3 with it)', async () => {
    const expired = await refusalOf(
      auth.authenticate(get('/items', bearer(await token({ exp: Math.floor(Date.now() / 1000) - 60 })))),
    );
    assert.equal(
      expired.headers['WWW-Authenticate'],
      `Bearer realm="items", error="invalid_token", error_description="token expired", resource_metadata="${url}"`,
    );
    const malformed = await refusalOf(auth.authenticate(get('/items', { authorization: 'Basic eDp5' })));
    assert.match(malformed.headers['WWW-Authenticate'] ?? '', /error="invalid_request".*, resource_metadata="[^"]+"$/);
    const scope = await refusalOf(auth.authenticate(get('/items', bearer(await token({ scope: 'other' })))));
    assert.equal(
      scope.headers['WWW-Authenticate'],
      'Bearer realm="items", error="insufficient_scope", error_description="token lacks the required scope", ' +
        `scope="items/read", resource_metadata="${url}"`,
    );
    const stale = await refusalOf(
      auth.authenticate(
        get(
          '/items/1',
          bearer(await token({ scope: 'items/write', auth_time: Math.floor(Date.now() / 1000) - 61 })),
          'DELETE',
        ),
      ),
    );
    assert.match(stale.headers['WWW-Authenticate'] ?? '', /, max_age="60", resource_metadata="[^"]+"$/);
  });

  it('is not in a challenge when no URL is configured, and a bad URL is refused at construction', async () => {
    const plain = createAuthenticator({ issuers: [cognito(jwks.cognitoProfile())], realm: 'items' });
    assert.equal((await refusalOf(plain.authenticate(get('/x')))).headers['WWW-Authenticate'], 'Bearer realm="items"');
    assert.throws(
      () => createAuthenticator({ issuers: [cognito(jwks.cognitoProfile())], resourceMetadataUrl: 'nope' }),
      TypeError,
    );
  });
});
