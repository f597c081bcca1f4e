import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { cognito, protectedResourceWellKnown, requireScopes, type Access } from '@product-service/bearer';
import { createNodeBearer, writeRefusal } from '@product-service/bearer-node';

// Each claim of the README's "Closed by default" section, over real HTTP. The key set is given inline and empty:
// nothing is fetched, and any request that needs a token and has none is refused 401.
const bearer = createNodeBearer({
  issuers: [cognito({ userPoolId: 'us-east-1_AbC123', clientIds: null, jwks: { keys: [] } })],
});

async function serve(
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  run: (url: string) => Promise<void>,
): Promise<void> {
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** The README's server: each request authenticated with the route's access (none named here), then answered. */
const guarded = (access?: Access) => async (req: IncomingMessage, res: ServerResponse) => {
  const outcome = await bearer.authenticate(req, access);
  if ('refusal' in outcome) return writeRefusal(res, outcome.refusal);
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"resource":"https://api.example.com"}');
};

describe('createNodeBearer, closed by default', () => {
  it('admits the RFC 9728 metadata path without a token when no access is passed (RFC 9728 §3)', async () => {
    await serve(guarded(), async (url) => {
      assert.equal((await fetch(`${url}${protectedResourceWellKnown}`)).status, 200);
      assert.equal((await fetch(`${url}${protectedResourceWellKnown}/v1`)).status, 200);
      assert.equal((await fetch(`${url}/items`)).status, 401, 'negative control: any other path is closed');
    });
  });

  it('refuses the metadata path when the route passes an access of its own', async () => {
    await serve(guarded(requireScopes('meta/read')), async (url) => {
      assert.equal((await fetch(`${url}${protectedResourceWellKnown}`)).status, 401);
    });
  });

  const preflight = {
    method: 'OPTIONS',
    headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
  };

  it('refuses a CORS preflight that reaches authenticate(): it carries no token (Fetch standard, CORS-preflight fetch)', async () => {
    await serve(guarded(), async (url) => {
      const response = await fetch(`${url}/items`, preflight);
      assert.equal(response.status, 401);
      assert.equal(response.headers.get('access-control-allow-origin'), null);
    });
  });

  it('answers the preflight when the server answers it before authenticate()', async () => {
    const handle = async (req: IncomingMessage, res: ServerResponse) => {
      if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
        res.writeHead(204, {
          'access-control-allow-origin': 'https://app.example',
          'access-control-allow-methods': 'GET, POST',
          'access-control-allow-headers': 'authorization',
        });
        return void res.end();
      }
      return guarded()(req, res);
    };
    await serve(handle, async (url) => {
      const response = await fetch(`${url}/items`, preflight);
      assert.equal(response.status, 204);
      assert.equal(response.headers.get('access-control-allow-origin'), 'https://app.example');
      assert.equal((await fetch(`${url}/items`, { method: 'POST' })).status, 401, 'the route stays closed');
    });
  });
});
