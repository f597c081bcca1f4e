import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import {
  bearer,
  fetchToken,
  freePort,
  localTestConfig,
  requestToken,
  startService,
  type RunningService,
} from './support/service.js';

// The README's walk-through, a machine's token and a person's, against the service as `npm start` builds it:
// embedded issuer, real HTTP.
describe('local mode: the bearer-token flow end to end', () => {
  let running: RunningService;
  let tokenUrl: string;
  const client = { id: 'local-client', secret: 'local-client-secret' };

  before(async () => {
    running = await startService(localTestConfig());
    assert.ok(running.service.localIssuer);
    tokenUrl = running.service.localIssuer.tokenUrl;
  });
  after(() => running.close());

  describe("npm run token, the README's way to a token for curl", () => {
    const run = (args: readonly string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        // PORT as the test service's, so that the sign-in's redirect URI is one the issuer registered.
        const child = spawn('npm', ['run', '--silent', 'token', '--', ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, PORT: '0' },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.once('exit', (code) => resolve({ code, stdout, stderr }));
      });

    it('prints the access token alone, which the service accepts', async () => {
      const { code, stdout } = await run(['--token-url', tokenUrl, '--client', `${client.id}:${client.secret}`]);
      assert.equal(code, 0);
      const response = await fetch(`${running.url}/products`, { headers: bearer(stdout.trim()) });
      assert.equal(response.status, 200);
    });

    it("signs a person in at the hosted login with --user and prints that person's token", async () => {
      const { code, stdout, stderr } = await run(['--token-url', tokenUrl, '--user', 'admin']);
      assert.equal(code, 0, stderr);
      assert.equal(decodeJwt(stdout.trim())['username'], 'admin');
      assert.equal((await fetch(`${running.url}/products`, { headers: bearer(stdout.trim()) })).status, 200);
      const wrong = await run(['--token-url', tokenUrl, '--user', 'admin', '--password', 'not-the-password']);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /incorrect username or password/);
    });

    it('fails loudly on a wrong secret: the reason on stderr, nothing on stdout, exit 1', async () => {
      const { code, stdout, stderr } = await run(['--token-url', tokenUrl, '--client', `${client.id}:wrong-secret`]);
      assert.equal(code, 1);
      assert.equal(stdout, '');
      assert.match(stderr, /answered 401 invalid_client/);
    });

    it('fails loudly when nothing answers at the token URL', async () => {
      const url = `http://127.0.0.1:${await freePort()}/oauth2/token`;
      const { code, stdout, stderr } = await run(['--token-url', url, '--client', 'a:b']);
      assert.equal(code, 1);
      assert.equal(stdout, '');
      assert.ok(stderr.includes(`no answer from ${url} (ECONNREFUSED)`), stderr);
    });
  });

  it('answers GET /hello with 200 and no token: it is the load balancer health check', async () => {
    const response = await fetch(`${running.url}/hello`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { message: 'hello' });
  });

  it('answers GET / without a token with 401 and a Bearer challenge that has no error code (RFC 6750 §3.1)', async () => {
    const response = await fetch(`${running.url}/`);
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="product-service"');
    const body = (await response.json()) as Record<string, unknown>;
    assert.equal(typeof body['error_description'], 'string');
  });

  it('answers an unknown path without a token with 401, not 404: nothing is revealed before authentication', async () => {
    const response = await fetch(`${running.url}/no/such/path`);
    assert.equal(response.status, 401);
  });

  it('answers an unknown path with a valid token from the embedded issuer with 404', async () => {
    const token = await fetchToken(tokenUrl, client);
    const response = await fetch(`${running.url}/example`, { headers: bearer(token) });
    assert.equal(response.status, 404);
    assert.equal(((await response.json()) as { error: string }).error, 'not_found');
  });

  it('serves the JWKS and discovery under the user pool path, as Cognito does', async () => {
    const issuer = running.service.localIssuer;
    assert.ok(issuer);
    const discovery = (await (await fetch(`${issuer.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(discovery['issuer'], issuer.issuer);
    assert.equal(discovery['jwks_uri'], issuer.jwksUri);
    assert.equal(discovery['token_endpoint'], issuer.tokenUrl);
    assert.match(issuer.jwksUri, /\/local_ProductService\/\.well-known\/jwks\.json$/);
    const jwks = (await (await fetch(issuer.jwksUri)).json()) as { keys: Record<string, unknown>[] };
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]?.['d'], undefined, 'the JWKS must publish only the public half');
  });

  it('issues access tokens shaped exactly like Cognito client_credentials tokens', async () => {
    const token = await fetchToken(tokenUrl, client, 'products/read');
    const header = decodeProtectedHeader(token);
    assert.deepEqual(Object.keys(header).sort(), ['alg', 'kid']);
    assert.equal(header.alg, 'RS256');
    const claims = decodeJwt(token);
    assert.deepEqual(Object.keys(claims).sort(), [
      'auth_time',
      'client_id',
      'exp',
      'iat',
      'iss',
      'jti',
      'scope',
      'sub',
      'token_use',
      'version',
    ]);
    assert.equal(claims['token_use'], 'access');
    assert.equal(claims['client_id'], 'local-client');
    assert.equal(claims.sub, 'local-client');
    assert.equal(claims['scope'], 'products/read');
    assert.equal(claims.iss, running.service.localIssuer?.issuer);
    assert.equal(claims['auth_time'], claims.iat);
    assert.equal(claims['version'], 2);
  });

  it('grants every scope of the client when none is asked for, as Cognito does', async () => {
    const claims = decodeJwt(await fetchToken(tokenUrl, client));
    assert.equal(claims['scope'], 'products/read products/write');
  });

  it('accepts the client secret in the form body (client_secret_post) too', async () => {
    const { status, body } = await requestToken(tokenUrl, client, { auth: 'post' });
    assert.equal(status, 200);
    assert.equal(typeof body['access_token'], 'string');
  });

  it('refuses a wrong client secret with 401 invalid_client', async () => {
    const { status, body } = await requestToken(tokenUrl, { id: client.id, secret: 'wrong-secret' });
    assert.equal(status, 401);
    assert.equal(body['error'], 'invalid_client');
  });

  it('refuses a scope the client may not have with 400 invalid_scope, even one the server never heard of', async () => {
    for (const scope of ['products/admin', 'products/read other/thing']) {
      const { status, body } = await requestToken(tokenUrl, client, { scope });
      assert.equal(status, 400, scope);
      assert.equal(body['error'], 'invalid_scope', scope);
    }
  });

  it('signs with a key made fresh for each run', async () => {
    const other = await startService(localTestConfig());
    try {
      const kidA = decodeProtectedHeader(await fetchToken(tokenUrl, client)).kid;
      const otherUrl = other.service.localIssuer?.tokenUrl ?? '';
      const kidB = decodeProtectedHeader(await fetchToken(otherUrl, client)).kid;
      assert.notEqual(kidA, kidB);
      // A token from one run's issuer is worthless to another run's service.
      const foreign = await fetchToken(otherUrl, client);
      const response = await fetch(`${running.url}/example`, { headers: bearer(foreign) });
      assert.equal(response.status, 401);
    } finally {
      await other.close();
    }
  });
});
