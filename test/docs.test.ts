import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cognito } from '@product-service/bearer';
import { startTestIssuer } from '@product-service/bearer-testing';
import {
  bearer,
  configTrusting,
  fetchToken,
  localTestConfig,
  startService,
  type RunningService,
} from './support/service.js';

describe('the docs page and its contract', () => {
  let running: RunningService;
  const pageOrigin = 'http://localhost:4000';

  before(async () => {
    running = await startService(localTestConfig({ CORS_ORIGINS: pageOrigin }));
  });
  after(() => running.close());

  it('serves /docs without a token, self-hosted, with a strict Content-Security-Policy and nosniff', async () => {
    const response = await fetch(`${running.url}/docs`);
    assert.equal(response.status, 200);
    const html = await response.text();
    assert.ok(!/https?:\/\//.test(html.replace('http://www.w3.org', '')), 'no resource from another origin');
    assert.ok(!/<script>[^<]/.test(html), 'no inline script');
    const csp = response.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(
      csp,
      new RegExp(`connect-src 'self' ${running.service.localIssuer?.tokenUrl.replace(/\/oauth2\/token$/, '') ?? ''}`),
    );
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    // oauth2-redirect.html is where the hosted login returns people, locally and in infra/cognito.template.yml.
    for (const asset of [
      '/docs/swagger-ui-bundle.js',
      '/docs/swagger-ui.css',
      '/docs/init.js',
      '/docs/oauth2-redirect.html',
    ]) {
      const file = await fetch(`${running.url}${asset}`);
      assert.equal(file.status, 200, asset);
    }
    assert.equal((await fetch(`${running.url}/docs/package.json`)).status, 404, 'only the listed assets are served');
  });

  // Written out, not computed with the code that writes the document: this is what a client reads and relies on.
  const documentedSecurity: Record<string, 'public' | readonly string[]> = {
    'GET /hello': 'public',
    'GET /ready': 'public',
    'GET /openapi.json': 'public',
    'GET /metrics': [],
    'GET /products': ['products/read'],
    'POST /products': ['products/write'],
    'GET /products/{id}': ['products/read'],
    'PATCH /products/{id}': ['products/write'],
    'DELETE /products/{id}': ['products/write'],
    'GET /products/{id}/snapshots': ['products/read'],
  };

  it('documents every route but the docs page itself, each with the scopes written out here', async () => {
    const doc = (await (await fetch(`${running.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { security: Record<string, string[]>[] }>>;
    };
    const documented = Object.fromEntries(
      Object.entries(doc.paths).flatMap(([path, byMethod]) =>
        Object.entries(byMethod).map(([method, operation]) => [
          `${method.toUpperCase()} ${path}`,
          operation.security.length === 0 ? 'public' : (operation.security[0]?.['oauth2'] ?? []),
        ]),
      ),
    );
    assert.deepEqual(documented, documentedSecurity);
    const routes = running.service.routes
      .filter((route) => !route.path.startsWith('/docs'))
      .map((route) => `${route.method} ${route.path.replace(/:(\w+)/g, '{$1}')}`);
    assert.deepEqual(routes.sort(), Object.keys(documentedSecurity).sort());
  });

  // What the document says, held to what the service does: a token with exactly the documented scopes gets past
  // authentication (a 4xx of the route's own, or 2xx), one with every other scope but those is 403, none is 401.
  it('admits a token with exactly the documented scopes, and refuses one without them (403) or none (401)', async () => {
    const tokenUrl = running.service.localIssuer?.tokenUrl ?? assert.fail('local mode');
    const client = { id: 'local-client', secret: 'local-client-secret' };
    const all = ['products/read', 'products/write'];
    const tokenWith = (scopes: readonly string[]) => fetchToken(tokenUrl, client, scopes.join(' '));
    const id = '00000000-0000-4000-8000-000000000000';
    for (const [operation, security] of Object.entries(documentedSecurity)) {
      if (security === 'public') continue;
      const [method = '', path = ''] = operation.split(' ');
      const call = async (token?: string) => {
        const headers = token ? { ...bearer(token), 'content-type': 'application/json' } : {};
        const response = await fetch(`${running.url}${path.replace('{id}', id)}`, { method, headers, body: null });
        await response.arrayBuffer();
        return response.status;
      };
      assert.equal(await call(), 401, `${operation} without a token`);
      const admitted = await call(await tokenWith(security.length ? security : all));
      assert.ok(![401, 403].includes(admitted), `${operation} with ${security.join(' ')}: ${admitted}`);
      const others = all.filter((scope) => !security.includes(scope));
      if (security.length && others.length) {
        assert.equal(await call(await tokenWith(others)), 403, `${operation} with ${others.join(' ')} only`);
      }
    }
  });

  it('lets the embedded issuer answer CORS for the allowed origin only', async () => {
    const tokenUrl = running.service.localIssuer?.tokenUrl ?? '';
    const ask = (origin: string) =>
      fetch(tokenUrl, {
        method: 'POST',
        headers: {
          origin,
          authorization: `Basic ${Buffer.from('local-client:local-client-secret').toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
    assert.equal((await ask(pageOrigin)).headers.get('access-control-allow-origin'), pageOrigin);
    assert.equal((await ask('https://evil.example')).headers.get('access-control-allow-origin'), null);
  });

  it('offers a bearer token field, never a token URL that nothing serves (OIDC issuer without OAUTH_TOKEN_URL)', async () => {
    const jwks = await startTestIssuer();
    // The service as configured for an issuer of its own: no token URL is set, so none may be guessed.
    const oidc = await startService(configTrusting([cognito(jwks.cognitoProfile())]));
    try {
      const document = (await (await fetch(`${oidc.url}/openapi.json`)).json()) as Record<string, unknown>;
      assert.ok(!JSON.stringify(document).includes('tokenUrl'), 'no OAuth2 flow to a guessed URL');
      const { securitySchemes } = document['components'] as { securitySchemes: Record<string, unknown> };
      assert.deepEqual(Object.keys(securitySchemes), ['bearer']);
      assert.deepEqual(document['security'], [{ bearer: [] }]);
    } finally {
      await oidc.close();
      await jwks.close();
    }
  });
});
