import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import express, { type NextFunction, type Request, type Response } from 'express';
import { cognito, publicAccess, type Access, type AuthRequest, type Outcome } from '@product-service/bearer';
import * as adapter from '@product-service/bearer-express';
import { bearer, requireGroups, requireScopes } from '@product-service/bearer-express';

const admitted: Outcome = Object.freeze({ principal: undefined, access: publicAccess });

describe('the public surface of @product-service/bearer-express', () => {
  it('exports the middleware, the route middleware and the refusal writer, and nothing else at run time', () => {
    assert.deepEqual(Object.keys(adapter).sort(), [
      'bearer',
      'requireAccess',
      'requireGroups',
      'requireScopes',
      'writeRefusal',
    ]);
  });
});

describe('the Express middleware', () => {
  it('calls next() before it returns when the outcome is synchronous: no promise for a remembered token', () => {
    const middleware = bearer({ authenticator: { authenticate: () => admitted } });
    let called = false;
    const returned: unknown = middleware(
      { url: '/x', path: '/x', method: 'GET', headers: {}, rawHeaders: [] } as unknown as Request,
      undefined as unknown as Response,
      (() => (called = true)) as NextFunction,
    );
    assert.equal(called, true);
    assert.equal(returned, undefined);
  });

  describe('with route middleware', () => {
    const seen: { request: AuthRequest; access: Access | undefined }[] = [];
    let server: Server;
    let url: string;
    before(async () => {
      const app = express();
      app.use(
        bearer({ authenticator: { authenticate: (request, access) => (seen.push({ request, access }), admitted) } }),
      );
      app.get('/scoped', requireScopes('items/read', 'items/write'), (_req, res) => res.json({ ok: true }));
      app.get('/grouped', requireGroups('admins'), (_req, res) => res.json({ ok: true }));
      server = app.listen(0, '127.0.0.1');
      await new Promise<void>((resolve) => server.once('listening', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('asks the core for the route access after the app-level check: all of the scopes, one of the groups', async () => {
      seen.length = 0;
      assert.equal((await fetch(`${url}/scoped?page=2`)).status, 200);
      assert.equal((await fetch(`${url}/grouped`)).status, 200);
      assert.deepEqual(
        seen.map(({ request, access }) => [request.path, request.query, access]),
        [
          ['/scoped', 'page=2', undefined],
          ['/scoped', 'page=2', { kind: 'authenticated', scopes: { allOf: ['items/read', 'items/write'] } }],
          ['/grouped', '', undefined],
          ['/grouped', '', { kind: 'authenticated', groups: { anyOf: ['admins'] } }],
        ],
      );
    });
  });

  it('refuses to guess when route middleware runs without bearer() before it', async () => {
    const app = express();
    app.get('/lone', requireScopes('x'), (_req, res) => res.json({ ok: true }));
    app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => res.status(500).json(error.message));
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/lone`);
      assert.equal(response.status, 500);
      assert.match((await response.json()) as string, /need app\.use\(bearer/);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('builds its own authenticator from the options, closed by default', async () => {
    const app = express();
    app.use(bearer({ issuers: [cognito({ userPoolId: 'us-east-1_AbC123', clientIds: null, jwks: { keys: [] } })] }));
    app.get('/closed', (_req, res) => res.json({ ok: true }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/closed`);
      assert.equal(response.status, 401);
      assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="api"');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
