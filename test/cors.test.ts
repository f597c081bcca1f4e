import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { localTestConfig, startService, type RunningService } from './support/service.js';

describe('CORS, on purpose', () => {
  let running: RunningService;
  const allowed = 'http://localhost:5173';

  before(async () => {
    running = await startService(localTestConfig({ CORS_ORIGINS: allowed }));
  });
  after(() => running.close());

  const preflight = (origin: string) =>
    fetch(`${running.url}/products`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
    });

  it('answers a preflight from an allowed origin without a token, allowing Authorization but not credentials', async () => {
    const response = await preflight(allowed);
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('access-control-allow-origin'), allowed);
    assert.match(response.headers.get('access-control-allow-headers') ?? '', /Authorization/);
    // RFC 9449 §4.1: a browser client sends its proof in the DPoP header.
    assert.match(response.headers.get('access-control-allow-headers') ?? '', /\bDPoP\b/);
    assert.equal(response.headers.get('access-control-allow-credentials'), null);
  });

  it('gives a preflight from any other origin no Access-Control-Allow-Origin', async () => {
    const response = await preflight('https://evil.example');
    assert.equal(response.headers.get('access-control-allow-origin'), null);
  });

  it('still needs a token for the actual cross-origin request', async () => {
    const response = await fetch(`${running.url}/products`, { headers: { origin: allowed } });
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('access-control-allow-origin'), allowed);
    assert.match(response.headers.get('access-control-expose-headers') ?? '', /WWW-Authenticate/);
  });

  it('treats an OPTIONS request that is not a preflight like any other request: closed', async () => {
    assert.equal((await fetch(`${running.url}/products`, { method: 'OPTIONS' })).status, 401);
  });
});
