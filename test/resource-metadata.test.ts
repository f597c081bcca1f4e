import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { supportedAlgorithms } from '@product-service/bearer/defaults';
import { fetchToken, localTestConfig, startService, type RunningService } from './support/service.js';

const wellKnown = '/.well-known/oauth-protected-resource';
/** With a resource URL, DPoP proofs can be checked, so the DPoP challenge follows Bearer's (RFC 9449 §7.1). */
const dpopAlgs = `algs="${supportedAlgorithms.join(' ')}"`;

// RFC 9728: the service publishes what a client needs to get a token for it (which issuers, which scopes, how to send
// it), and every challenge points at that document (§5.1), when RESOURCE_URL says what the service is called.
describe('protected resource metadata (RFC 9728)', () => {
  let running: RunningService;
  const resource = 'https://products.example.com';

  before(async () => {
    running = await startService(localTestConfig({ RESOURCE_URL: resource }));
  });
  after(() => running.close());

  it('serves the §2 document at the well-known path (§3), public, as cacheable JSON', async () => {
    // A token is not even read on a public route: a bad one changes nothing.
    const response = await fetch(`${running.url}${wellKnown}`, { headers: { authorization: 'Bearer nonsense' } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json\b/);
    assert.equal(response.headers.get('cache-control'), 'public, max-age=3600');
    assert.deepEqual(await response.json(), {
      resource,
      authorization_servers: [running.service.localIssuer?.issuer],
      scopes_supported: ['products/read', 'products/write'],
      bearer_methods_supported: ['header'],
      resource_name: 'ProductService',
      resource_documentation: `${resource}/docs`,
    });
  });

  it('names it as resource_metadata in the 401 without credentials, and in the 403 (§5.1)', async () => {
    const missing = await fetch(`${running.url}/products`);
    assert.equal(missing.status, 401);
    assert.equal(
      missing.headers.get('www-authenticate'),
      `Bearer realm="product-service", resource_metadata="${resource}${wellKnown}", ` +
        `DPoP realm="product-service", resource_metadata="${resource}${wellKnown}", ${dpopAlgs}`,
    );
    const client = { id: 'local-client', secret: 'local-client-secret' };
    const readOnly = await fetchToken(running.service.localIssuer?.tokenUrl ?? '', client, 'products/read');
    const forbidden = await fetch(`${running.url}/products`, {
      method: 'POST',
      headers: { authorization: `Bearer ${readOnly}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(forbidden.status, 403);
    assert.equal(
      forbidden.headers.get('www-authenticate'),
      'Bearer realm="product-service", error="insufficient_scope", error_description="token lacks the required scope", ' +
        `scope="products/write", resource_metadata="${resource}${wellKnown}", ` +
        `DPoP realm="product-service", resource_metadata="${resource}${wellKnown}", ${dpopAlgs}`,
    );
  });

  it('lists the document in /openapi.json as a public operation', async () => {
    const document = (await (await fetch(`${running.url}/openapi.json`)).json()) as {
      paths: Partial<Record<string, { get?: { operationId: string; security: unknown[] } }>>;
    };
    const operation = document.paths[wellKnown]?.get;
    assert.equal(operation?.operationId, 'protectedResourceMetadata');
    assert.deepEqual(operation.security, [], 'no token asked for');
  });
});

describe('protected resource metadata for a resource with a path (RFC 9728 §3.1)', () => {
  it('is served with the path inserted after the well-known suffix, and named so in challenges', async () => {
    const running = await startService(localTestConfig({ RESOURCE_URL: 'https://api.example.com/catalog' }));
    try {
      const response = await fetch(`${running.url}${wellKnown}/catalog`);
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as { resource: string }).resource, 'https://api.example.com/catalog');
      const challenge = (await fetch(`${running.url}/products`)).headers.get('www-authenticate');
      assert.match(
        challenge ?? '',
        /, resource_metadata="https:\/\/api\.example\.com\/\.well-known\/oauth-protected-resource\/catalog", algs="[^"]+"$/,
      );
    } finally {
      await running.close();
    }
  });
});

describe('without RESOURCE_URL', () => {
  it('publishes no metadata and names none: the well-known path, public as the Koa adapter leaves it, is a 404', async () => {
    const running = await startService(localTestConfig());
    try {
      // RFC 9728 §3: a client reads the metadata before it has a token, so the adapter never asks one there.
      const response = await fetch(`${running.url}${wellKnown}`);
      assert.equal(response.status, 404);
      assert.equal(response.headers.get('www-authenticate'), null);
      const challenge = (await fetch(`${running.url}/products`)).headers.get('www-authenticate');
      assert.equal(challenge, 'Bearer realm="product-service"', 'and challenges name no metadata');
      const document = (await (await fetch(`${running.url}/openapi.json`)).json()) as { paths: object };
      assert.equal(wellKnown in document.paths, false);
    } finally {
      await running.close();
    }
  });
});
