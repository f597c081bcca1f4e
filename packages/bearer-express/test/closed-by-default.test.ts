import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import cors from 'cors';
import express from 'express';
import {
  cognito,
  createRoutePolicy,
  protectedResourceWellKnown,
  publicAccess,
  type AuthenticatorOptions,
} from '@product-service/bearer';
import { bearer } from '@product-service/bearer-express';

// Each claim of the README's "Closed by default" section, over real HTTP. The key set is given inline and empty:
// nothing is fetched, and any request that needs a token and has none is refused 401.
const options: AuthenticatorOptions = {
  issuers: [cognito({ userPoolId: 'us-east-1_AbC123', clientIds: null, jwks: { keys: [] } })],
};
const ok: express.RequestHandler = (_req, res) => void res.json({ ok: true });

async function serve(app: express.Express, run: (url: string) => Promise<void>): Promise<void> {
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('the Express middleware, closed by default', () => {
  it('matches policy paths relative to where bearer() is mounted, as Express hands it req.path', async () => {
    const api = express.Router();
    api.use(
      bearer({ ...options, policy: createRoutePolicy([{ method: 'GET', path: '/health', access: publicAccess }]) }),
    );
    api.get('/health', ok);
    const app = express();
    app.use('/api', api);
    await serve(app, async (url) => {
      assert.equal((await fetch(`${url}/api/health`)).status, 200);
    });
  });

  it('negative control: a policy path written from the app root under a mount matches nothing, and stays closed', async () => {
    const api = express.Router();
    const policy = createRoutePolicy([{ method: 'GET', path: '/api/health', access: publicAccess }]);
    api.use(bearer({ ...options, policy }));
    api.get('/health', ok);
    const app = express();
    app.use('/api', api);
    await serve(app, async (url) => {
      assert.equal((await fetch(`${url}/api/health`)).status, 401);
    });
  });

  it('serves the RFC 9728 metadata route without a token given a publicAccess rule for it (RFC 9728 §3)', async () => {
    const app = express();
    const policy = createRoutePolicy([{ method: 'GET', path: protectedResourceWellKnown, access: publicAccess }]);
    app.use(bearer({ ...options, policy }));
    app.get(protectedResourceWellKnown, ok);
    await serve(app, async (url) => {
      assert.equal((await fetch(`${url}${protectedResourceWellKnown}`)).status, 200);
    });
  });

  // The adapter kit opens the well-known metadata path by default (RFC 9728 §3: read before any token), as in the
  // other adapters; a path beside it stays closed (the control).
  it('serves the RFC 9728 metadata route without a token and without a rule for it, and nothing beside it', async () => {
    const app = express();
    app.use(bearer(options));
    app.get(protectedResourceWellKnown, ok);
    app.get(`${protectedResourceWellKnown}-not`, ok);
    await serve(app, async (url) => {
      assert.equal((await fetch(`${url}${protectedResourceWellKnown}`)).status, 200);
      assert.equal((await fetch(`${url}${protectedResourceWellKnown}-not`)).status, 401);
    });
  });

  // The Fetch standard sends a CORS preflight without credentials (fetch.spec.whatwg.org, "CORS-preflight fetch"), so
  // it carries no token: cors() answers it only when it runs before bearer().
  const preflight = {
    method: 'OPTIONS',
    headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
  };

  it('answers a CORS preflight when cors() comes before bearer()', async () => {
    const app = express();
    app.use(cors({ origin: 'https://app.example' }));
    app.use(bearer(options));
    app.post('/items', ok);
    await serve(app, async (url) => {
      const response = await fetch(`${url}/items`, preflight);
      assert.equal(response.status, 204);
      assert.equal(response.headers.get('access-control-allow-origin'), 'https://app.example');
      assert.equal((await fetch(`${url}/items`, { method: 'POST' })).status, 401, 'the route stays closed');
    });
  });

  it('negative control: refuses the preflight (401, no CORS headers) when cors() comes after bearer()', async () => {
    const app = express();
    app.use(bearer(options));
    app.use(cors({ origin: 'https://app.example' }));
    app.post('/items', ok);
    await serve(app, async (url) => {
      const response = await fetch(`${url}/items`, preflight);
      assert.equal(response.status, 401);
      assert.equal(response.headers.get('access-control-allow-origin'), null);
    });
  });
});
