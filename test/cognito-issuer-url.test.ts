import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { productScopes } from '../src/app.js';
import { startLocalIssuer, type LocalIssuer } from '../src/local/issuer.js';
import { signIn } from '../src/local/sign-in.js';
import {
  awsLikeEnv,
  spawnTs,
  startStoreProcess,
  stop,
  watchLines,
  type Child,
  type StoreProcess,
} from './support/processes.js';
import { bearer, fetchToken } from './support/service.js';

const userPoolId = 'local_Emulated';
const redirectUri = 'http://localhost:0/docs/oauth2-redirect.html';

/** A Cognito-shaped issuer the test controls: the embedded one, run on its own, as a team runs cognito-local. */
function startEmulator(): Promise<LocalIssuer> {
  return startLocalIssuer({
    port: 0,
    userPoolId,
    scopes: productScopes,
    clients: [
      { id: 'allowed-machine', secret: 'allowed-secret', scopes: productScopes },
      { id: 'other-machine', secret: 'other-secret', scopes: productScopes },
    ],
    webClient: { id: 'allowed-web', redirectUris: [redirectUri] },
    users: [
      { username: 'admin', password: 'admin-password', groups: ['catalog-admins'] },
      { username: 'reader', password: 'reader-password', groups: [] },
    ],
  });
}

// COGNITO_ISSUER_URL: the image's own entry point (src/server.ts), trusting a Cognito pool served elsewhere, with every
// Cognito rule of USER_POOL_ID still on (aws-jwt-verify #147 asks for exactly this).
describe('a Cognito-compatible issuer at COGNITO_ISSUER_URL', () => {
  let emulator: LocalIssuer;
  let impostor: LocalIssuer;
  let store: StoreProcess;
  let child: Child;
  let url: string;
  const person = (username: string, password: string) =>
    signIn({
      authorizeUrl: emulator.authorizeUrl,
      tokenUrl: emulator.tokenUrl,
      clientId: 'allowed-web',
      redirectUri,
      username,
      password,
      scope: 'openid email products/read products/write',
    });
  const products = (token: string, init: RequestInit = {}) =>
    fetch(`${url}/products`, { ...init, headers: { ...bearer(token), 'content-type': 'application/json' } });
  const create = (token: string) =>
    products(token, {
      method: 'POST',
      body: JSON.stringify({ name: 'Trek Rail', imageURL: 'https://images.example.com/rail.png' }),
    });

  before(async () => {
    [emulator, impostor, store] = await Promise.all([startEmulator(), startEmulator(), startStoreProcess()]);
    const env = { ...awsLikeEnv(emulator, store.endpoint) };
    delete env['OIDC_ISSUER'];
    delete env['JWKS_URI'];
    child = spawnTs('src/server.ts', [], {
      ...env,
      USER_POOL_ID: userPoolId,
      COGNITO_ISSUER_URL: emulator.issuer.slice(0, -userPoolId.length - 1),
      ALLOWED_CLIENT_IDS: 'allowed-machine,allowed-web',
    });
    const listening = await watchLines(child).first((line) => line.includes('product-service listening'));
    const { port, mode } = JSON.parse(listening) as { port: number; mode: string };
    assert.equal(mode, 'aws');
    url = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    await stop(child);
    await Promise.all([emulator.close(), impostor.close(), store.close()]);
  });

  it("accepts an allowed machine client's access token, and writes with products/write", async () => {
    const token = await fetchToken(emulator.tokenUrl, { id: 'allowed-machine', secret: 'allowed-secret' });
    assert.equal((await products(token)).status, 200);
    assert.equal((await create(token)).status, 201);
  });

  it('refuses a token of a client not in ALLOWED_CLIENT_IDS, though the pool signed it', async () => {
    const token = await fetchToken(emulator.tokenUrl, { id: 'other-machine', secret: 'other-secret' });
    const refused = await products(token);
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });

  it('takes a person’s access token with their groups, and refuses their ID token (token_use)', async () => {
    const admin = await person('admin', 'admin-password');
    assert.equal((await create(admin.accessToken)).status, 201);
    assert.equal((await products(admin.idToken)).status, 401, 'an ID token is not an access token');
    const reader = await person('reader', 'reader-password');
    assert.equal((await products(reader.accessToken)).status, 200);
    assert.equal((await create(reader.accessToken)).status, 403, 'not in catalog-admins');
  });

  it('refuses a token from another issuer with the same pool id and client (its iss and keys are not the pool’s)', async () => {
    const token = await fetchToken(impostor.tokenUrl, { id: 'allowed-machine', secret: 'allowed-secret' });
    assert.equal((await products(token)).status, 401);
  });
});
