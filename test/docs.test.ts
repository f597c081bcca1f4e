import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { scopesOf } from '../src/openapi.js';
import { startTestIssuer } from '@product-service/bearer-testing';
import { cognitoAt, configTrusting, localTestConfig, startService, type RunningService } from './support/service.js';

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

  it('documents every route but the docs page itself, each with exactly the scopes its access demands', async () => {
    const doc = (await (await fetch(`${running.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { security: Record<string, string[]>[] }>>;
    };
    const { routes } = running.service;
    for (const route of routes) {
      const operation = doc.paths[route.path.replace(/:(\w+)/g, '{$1}')]?.[route.method.toLowerCase()];
      if (route.path.startsWith('/docs')) {
        assert.equal(operation, undefined, `${route.path} is the page, not the API`);
        continue;
      }
      assert.ok(operation, `${route.method} ${route.path} is undocumented`);
      const documented = operation.security.length === 0 ? 'public' : (operation.security[0]?.['oauth2'] ?? []);
      assert.deepEqual(documented, route.access.kind === 'public' ? 'public' : scopesOf(route.access));
    }
    const operations = Object.values(doc.paths).flatMap((byMethod) => Object.keys(byMethod));
    assert.equal(operations.length, routes.filter((route) => !route.path.startsWith('/docs')).length);
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
    const oidc = await startService(configTrusting([cognitoAt(jwks.baseUrl, jwks.userPoolId)]));
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
