import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { createDpopKey, type DpopKey } from '@product-service/bearer-testing';
import { bearer, localTestConfig, startService, type RunningService } from './support/service.js';

// DPoP (RFC 9449, https://www.rfc-editor.org/rfc/rfc9449) end to end: a token the embedded oidc-provider issuer
// binds to the client's key (§5, §6.1), used against the service as `npm start` builds it, over real HTTP.
describe('DPoP end to end: the embedded issuer binds a token, the service checks its proofs', () => {
  const resource = 'https://products.example';
  let running: RunningService;
  let tokenUrl: string;
  let client: DpopKey;

  before(async () => {
    running = await startService(localTestConfig({ RESOURCE_URL: resource }));
    assert.ok(running.service.localIssuer);
    tokenUrl = running.service.localIssuer.tokenUrl;
    client = await createDpopKey();
  });
  after(() => running.close());

  /** A client-credentials token, with a DPoP proof of the token request when `dpop` is given (RFC 9449 §5). */
  async function token(dpop?: DpopKey): Promise<{ status: number; body: Record<string, unknown> }> {
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from('local-client:local-client-secret').toString('base64')}`,
    };
    if (dpop) headers['dpop'] = await dpop.proof({ method: 'POST', url: tokenUrl });
    const response = await fetch(tokenUrl, {
      method: 'POST',
      headers,
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  const products = (token: string, proof?: string) =>
    fetch(`${running.url}/products`, {
      headers: proof === undefined ? bearer(token) : { authorization: `DPoP ${token}`, dpop: proof },
    });

  it('issues a DPoP-bound token (token_type DPoP, cnf.jkt the key thumbprint) when asked with a proof', async () => {
    const { status, body } = await token(client);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body['token_type'], 'DPoP');
    assert.deepEqual(decodeJwt(String(body['access_token']))['cnf'], { jkt: client.jkt });
    // Negative control: without a proof, a plain bearer token.
    const plain = await token();
    assert.equal(plain.body['token_type'], 'Bearer');
    assert.equal(decodeJwt(String(plain.body['access_token']))['cnf'], undefined);
  });

  it('admits the bound token with a proof for the configured resource URL, once per proof', async () => {
    const access = String((await token(client)).body['access_token']);
    const proof = await client.proof({ method: 'GET', url: `${resource}/products`, token: access });
    assert.equal((await products(access, proof)).status, 200);
    const replayed = await products(access, proof);
    assert.equal(replayed.status, 401);
    assert.deepEqual(await replayed.json(), {
      error: 'invalid_dpop_proof',
      error_description: 'DPoP proof already used',
    });
    assert.match(replayed.headers.get('www-authenticate') ?? '', /, DPoP realm="[^"]+", error="invalid_dpop_proof"/);
  });

  it('refuses the bound token as Bearer, and with a proof of the URL it was sent to instead of the configured one', async () => {
    const access = String((await token(client)).body['access_token']);
    const asBearer = await products(access);
    assert.equal(asBearer.status, 401);
    assert.match(
      asBearer.headers.get('www-authenticate') ?? '',
      /error="invalid_token", error_description="token is DPoP-bound/,
    );
    const forHost = await client.proof({ method: 'GET', url: `${running.url}/products`, token: access });
    assert.equal((await products(access, forHost)).status, 401);
  });

  it('still admits a plain bearer token: DPoP is allowed, not required, by default', async () => {
    const plain = String((await token()).body['access_token']);
    assert.equal((await products(plain)).status, 200);
  });
});
