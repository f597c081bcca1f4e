import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import express, { type NextFunction, type Request, type Response } from 'express';
import {
  cognito,
  createAuthenticator,
  publicAccess,
  type Access,
  type Authenticator,
  type AuthRequest,
  type Outcome,
} from '@product-service/bearer';
import * as adapter from '@product-service/bearer-express';
import {
  authOf,
  bearer,
  claimCheck,
  claimEquals,
  claimIncludes,
  requireGroups,
  requireScopes,
  TemporarilyUnavailableError,
  UnauthorizedError,
  writeRefusal,
  type BearerRequest,
} from '@product-service/bearer-express';
import { createTestKey, startTestIssuer, type TestIssuer } from '@product-service/bearer-testing';

const admitted: Outcome = Object.freeze({ principal: undefined, access: publicAccess });

describe('the public surface of @product-service/bearer-express', () => {
  it('exports the middleware, the route middleware, the refusal writer, the error classes and authOf, and nothing else at run time', () => {
    assert.deepEqual(Object.keys(adapter).sort(), [
      'InsufficientScopeError',
      'InsufficientUserAuthenticationError',
      'InvalidRequestError',
      'InvalidTokenError',
      'TemporarilyUnavailableError',
      'UnauthorizedError',
      'authOf',
      'bearer',
      'claimCheck',
      'claimEquals',
      'claimIncludes',
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

/** An Express app on a free port, closed after the test that started it. */
async function serve(app: express.Express): Promise<{ url: string; close: () => Promise<void> }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** What a client sees of a refusal: status, the RFC 6750 headers, the body. */
async function seen(response: globalThis.Response): Promise<Record<string, unknown>> {
  return {
    status: response.status,
    challenge: response.headers.get('www-authenticate'),
    cacheControl: response.headers.get('cache-control'),
    retryAfter: response.headers.get('retry-after'),
    contentType: response.headers.get('content-type'),
    body: await response.text(),
  };
}

// Express migrants from express-oauth2-jwt-bearer 1.10: req.auth as its AuthResult, refusals through next(err) as its
// errors when asked, its claim checks. Real parts: the test kit's issuer over HTTP, real Express apps.
describe('for Express migrants', () => {
  let issuer: TestIssuer;
  let authenticator: Authenticator;

  before(async () => {
    issuer = await startTestIssuer({ keys: [await createTestKey()] });
    authenticator = createAuthenticator({
      issuers: [cognito(issuer.cognitoProfile())],
      realm: 'items',
      // A token from the `session` cookie as well; the header stays the default.
      getToken: (request) => /(?:^|; *)session=([^;]+)/.exec(String(request.headers['cookie'] ?? ''))?.[1],
    });
    await authenticator.warmUp();
  });
  after(() => issuer.close());

  /** An app with the routes each test asks, the handler answering what req.auth holds. */
  function app(options: { errors?: 'next'; errorHandler?: express.ErrorRequestHandler } = {}): express.Express {
    const application = express();
    application.use(bearer({ authenticator, ...(options.errors ? { errors: options.errors } : {}) }));
    const show = (req: Request, res: Response) => {
      // Read as code written for express-oauth2-jwt-bearer reads it: payload, header, token. The cast because this
      // repository's type-check also sees the incumbent (bench/), whose global type of req.auth is its own: the
      // mixed app of express-types.test.ts, where a handler would use authOf(req).
      const auth = (req as BearerRequest).auth;
      res.json({
        sub: auth?.payload.sub,
        alg: auth?.header.alg,
        kid: auth?.header.kid,
        token: auth?.token,
        subject: auth?.principal.subject,
      });
    };
    application.get('/items', show);
    application.get('/org', claimEquals('org_id', 'org_42'), show);
    application.get('/mfa', claimIncludes('amr', 'pwd', 'mfa'), show);
    application.get(
      '/acme',
      claimCheck((payload) => payload['tenant'] === 'acme', 'tenant acme only'),
      show,
    );
    application.get('/write', requireScopes('items/write'), show);
    if (options.errorHandler) application.use(options.errorHandler);
    return application;
  }

  it('leaves payload, header and token on req.auth, the principal beside them, and authOf finds it', async () => {
    const token = await issuer.cognitoAccessToken({ sub: 'client-7' });
    const application = app();
    let found: ReturnType<typeof authOf>;
    application.get('/found', (req, res) => void ((found = authOf(req)), res.end()));
    const running = await serve(application);
    try {
      const response = await fetch(`${running.url}/items`, { headers: { authorization: `Bearer ${token}` } });
      const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as { kid: string };
      assert.deepEqual(await response.json(), {
        sub: 'client-7',
        alg: 'RS256',
        kid: header.kid,
        token,
        subject: 'client-7',
      });
      await fetch(`${running.url}/found`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(found?.token, token);
      // Negative control: another middleware's req.auth (the incumbent's, say) is not taken for ours.
      const foreign = { auth: { payload: {}, header: {}, token } } as unknown as Request;
      assert.equal(authOf(foreign), undefined);
    } finally {
      await running.close();
    }
  });

  it('leaves no req.auth on a refused request, as express-oauth2-jwt-bearer does not', async () => {
    let auth: unknown = 'unset';
    const application = express();
    application.use(
      bearer({
        authenticator,
        answer: (req, res, refusal) => ((auth = (req as BearerRequest).auth), writeRefusal(req, res, refusal)),
      }),
    );
    const running = await serve(application);
    try {
      const token = await issuer.cognitoAccessToken({ scope: 'items/read' });
      const response = await fetch(`${running.url}/nowhere`, { headers: { authorization: `Bearer ${token}x` } });
      assert.equal(response.status, 401);
      assert.equal(auth, undefined);
    } finally {
      await running.close();
    }
  });

  describe('refusals', () => {
    const cases = [
      { name: 'no token', path: '/items', headers: {}, status: 401, type: 'UnauthorizedError' },
      { name: 'a query token', path: '/items?access_token=x', headers: {}, status: 400, type: 'InvalidRequestError' },
      { name: 'a forged token', path: '/items', token: 'forged', status: 401, type: 'InvalidTokenError' },
      { name: 'a missing scope', path: '/write', token: 'good', status: 403, type: 'InsufficientScopeError' },
      { name: 'a failed claim check', path: '/org', token: 'good', status: 401, type: 'InvalidTokenError' },
    ] as const;

    async function headersFor(token: 'good' | 'forged' | undefined): Promise<Record<string, string>> {
      if (token === undefined) return {};
      const good = await issuer.cognitoAccessToken({ scope: 'items/read', org_id: 'org_7' });
      return { authorization: `Bearer ${token === 'good' ? good : `${good.slice(0, -4)}AAAA`}` };
    }

    it('are answered per RFC 6750 by default, with no error handler of the app: status, challenge, no-store, JSON', async () => {
      const running = await serve(app());
      try {
        for (const refusal of cases) {
          const headers = 'token' in refusal ? await headersFor(refusal.token) : {};
          const answer = await seen(await fetch(`${running.url}${refusal.path}`, { headers }));
          assert.equal(answer['status'], refusal.status, refusal.name);
          assert.match(String(answer['challenge']), /^Bearer realm="items"/, refusal.name);
          assert.equal(answer['cacheControl'], 'no-store', refusal.name);
          assert.match(String(answer['contentType']), /^application\/json/, refusal.name);
          assert.match(String(answer['body']), /^\{"error":"[a-z_]+","error_description":"[^"]+"\}$/, refusal.name);
        }
      } finally {
        await running.close();
      }
    });

    it("with errors: 'next', reach the app's error middleware as typed errors carrying status, headers and code", async () => {
      const received: unknown[] = [];
      const handler: express.ErrorRequestHandler = (err: unknown, req, res, next) => {
        received.push(err);
        if (err instanceof UnauthorizedError) return writeRefusal(req, res, err.refusal);
        next(err);
      };
      const passing = await serve(app({ errors: 'next', errorHandler: handler }));
      const answering = await serve(app());
      try {
        for (const refusal of cases) {
          const headers = 'token' in refusal ? await headersFor(refusal.token) : {};
          received.length = 0;
          const answer = await seen(await fetch(`${passing.url}${refusal.path}`, { headers }));
          const [error] = received as UnauthorizedError[];
          assert.ok(error instanceof UnauthorizedError, refusal.name);
          assert.equal(error.name, refusal.type, refusal.name);
          assert.equal(error.constructor.name, refusal.type, refusal.name);
          assert.equal(error.status, refusal.status, refusal.name);
          assert.equal(error.statusCode, refusal.status, refusal.name);
          assert.equal(error.headers['WWW-Authenticate'], answer['challenge'], refusal.name);
          assert.equal(error.code, (JSON.parse(String(answer['body'])) as { error: string }).error, refusal.name);
          assert.equal(error.expose, true);
          // Written from the error, the answer is the one the adapter writes by default, to the byte.
          assert.deepEqual(
            answer,
            await seen(await fetch(`${answering.url}${refusal.path}`, { headers })),
            refusal.name,
          );
        }
        assert.equal((received[0] as UnauthorizedError | undefined)?.principal?.subject, 'test-client');
      } finally {
        await Promise.all([passing.close(), answering.close()]);
      }
    });

    it("with errors: 'next' and no error handler, Express's final handler answers HTML: why that is not the default", async () => {
      // The negative control of the default: handed to Express's own final handler, a refusal loses its JSON body.
      const application = app({ errors: 'next' });
      // Express logs every error its final handler answers unless env is 'test': this one is expected.
      application.set('env', 'test');
      const running = await serve(application);
      try {
        const answer = await seen(await fetch(`${running.url}/items`));
        assert.equal(answer['status'], 401);
        assert.match(String(answer['contentType']), /^text\/html/);
      } finally {
        await running.close();
      }
    });

    it('are TemporarilyUnavailableError, 503 with Retry-After, when no keys can be had', async () => {
      const down = await startTestIssuer({ userPoolId: 'local_Down', keys: [] });
      await down.setMode('down');
      const received: unknown[] = [];
      const application = express();
      application.use(bearer({ issuers: [cognito(down.cognitoProfile())], errors: 'next' }));
      application.use(((err, req, res, _next) => {
        received.push(err);
        writeRefusal(req, res, (err as UnauthorizedError).refusal);
      }) satisfies express.ErrorRequestHandler);
      const running = await serve(application);
      try {
        const token = await down.cognitoAccessToken({}, { key: await createTestKey() });
        const answer = await seen(
          await fetch(`${running.url}/items`, { headers: { authorization: `Bearer ${token}` } }),
        );
        assert.equal(answer['status'], 503);
        assert.match(String(answer['retryAfter']), /^\d+$/);
        assert.ok(received[0] instanceof TemporarilyUnavailableError && received[0] instanceof UnauthorizedError);
        assert.equal(received[0].code, 'temporarily_unavailable');
      } finally {
        await running.close();
        await down.close();
      }
    });

    it("refuses answer and errors: 'next' together: only one can write the refusal", () => {
      assert.throws(() => bearer({ authenticator, answer: writeRefusal, errors: 'next' }), TypeError);
    });
  });

  describe('claim checks on a route, as express-oauth2-jwt-bearer names them', () => {
    const get = async (url: string, claims: Record<string, unknown>) => {
      const token = await issuer.cognitoAccessToken(claims);
      const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      return `${response.status} ${response.headers.get('www-authenticate') ?? ''}`.trim();
    };

    it('admit a token that passes and refuse one that fails with 401 invalid_token', async () => {
      const running = await serve(app());
      try {
        const { url } = running;
        assert.equal(await get(`${url}/org`, { org_id: 'org_42' }), '200');
        assert.equal(
          await get(`${url}/org`, { org_id: 'org_7' }),
          `401 Bearer realm="items", error="invalid_token", error_description="token claims not accepted: unexpected 'org_id' value"`,
        );
        assert.equal(await get(`${url}/mfa`, { amr: ['mfa', 'pwd'] }), '200');
        assert.match(await get(`${url}/mfa`, { amr: ['pwd'] }), /^401 .*unexpected 'amr' value"$/);
        assert.equal(await get(`${url}/acme`, { tenant: 'acme' }), '200');
        assert.match(await get(`${url}/acme`, { tenant: 'umbrella' }), /^401 .*tenant acme only"$/);
      } finally {
        await running.close();
      }
    });
  });

  describe('getToken', () => {
    it('takes the token from a cookie, keeps the header as the default, and still refuses a query token', async () => {
      const running = await serve(app());
      try {
        const token = await issuer.cognitoAccessToken({ sub: 'cookie-client' });
        const fromCookie = await fetch(`${running.url}/items`, { headers: { cookie: `theme=dark; session=${token}` } });
        assert.equal(((await fromCookie.json()) as { subject: string }).subject, 'cookie-client');
        const fromHeader = await fetch(`${running.url}/items`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(fromHeader.status, 200);
        assert.equal((await fetch(`${running.url}/items?access_token=${token}`)).status, 400);
        const both = await fetch(`${running.url}/items`, {
          headers: { cookie: `session=${token}`, authorization: `Bearer ${token}` },
        });
        assert.equal(both.status, 400);
      } finally {
        await running.close();
      }
    });
  });
});
