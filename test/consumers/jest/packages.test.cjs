// A CommonJS project's test file, run by Jest on its default configuration: no jest.config, no transform settings,
// no --experimental-vm-modules. test/packages-publish.test.ts installs the packed tarballs beside it and runs it.
// Every package loads through require(); each adapter refuses a request without a token and admits one the test kit
// minted, so jose (inside the CommonJS builds) signs and verifies within Jest's module registry.
const { createServer, request } = require('node:http');
const { cognito, createAuthenticator } = require('@product-service/bearer');
const { defaults } = require('@product-service/bearer/defaults');
const { bearer: expressBearer } = require('@product-service/bearer-express');
const { bearer: fastifyBearer } = require('@product-service/bearer-fastify');
const { createBearerAuth } = require('@product-service/bearer-koa');
const { createNodeBearer, writeRefusal } = require('@product-service/bearer-node');
const { startTestIssuer } = require('@product-service/bearer-testing');
const express = require('express');
const Fastify = require('fastify');
const Koa = require('koa');

/** Each adapter serving GET /items to whoever its authenticator admits, as a server listening on a free port. */
const adapters = {
  express: async (authenticator) => {
    const app = express();
    app.use(expressBearer({ authenticator }));
    app.get('/items', (req, res) => res.json({ subject: req.auth?.principal.subject }));
    return createServer(app);
  },
  fastify: async (authenticator) => {
    const app = Fastify();
    await app.register(fastifyBearer, { authenticator });
    app.get('/items', async (req) => ({ subject: req.principal?.subject }));
    await app.ready();
    return app.server;
  },
  koa: async (authenticator) => {
    const app = new Koa();
    app.use(createBearerAuth({ authenticator }));
    app.use((ctx) => {
      ctx.body = { subject: ctx.state.principal?.subject };
    });
    return createServer(app.callback());
  },
  node: async (authenticator) => {
    const bearer = createNodeBearer({ authenticator });
    return createServer(async (req, res) => {
      const outcome = await bearer.authenticate(req);
      if ('refusal' in outcome) return writeRefusal(res, outcome.refusal);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ subject: outcome.principal?.subject }));
    });
  },
};

function get(server, headers) {
  return new Promise((resolve, reject) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      const req = request({ port, host: '127.0.0.1', path: '/items', headers }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => server.close(() => resolve({ status: res.statusCode, headers: res.headers, body })));
      });
      req.on('error', reject);
      req.end();
    });
  });
}

let issuer;
let authenticator;
beforeAll(async () => {
  issuer = await startTestIssuer();
  authenticator = createAuthenticator({ issuers: [cognito(issuer.cognitoProfile())] });
});
afterAll(() => issuer.close());

test('the core and its defaults load through require()', () => {
  expect(typeof createAuthenticator).toBe('function');
  expect(defaults.clockToleranceSec).toBe(5);
});

test.each(Object.keys(adapters))('%s refuses a request without a token: 401 with a Bearer challenge', async (name) => {
  const answer = await get(await adapters[name](authenticator), {});
  expect(answer.status).toBe(401);
  expect(answer.headers['www-authenticate']).toBe('Bearer realm="api"');
});

test.each(Object.keys(adapters))('%s admits a token the test kit minted', async (name) => {
  const token = await issuer.cognitoAccessToken({ sub: 'jest-client' });
  const answer = await get(await adapters[name](authenticator), { authorization: `Bearer ${token}` });
  expect(answer.status).toBe(200);
  expect(JSON.parse(answer.body)).toEqual({ subject: 'jest-client' });
});

// The negative control: jose itself is ESM only, and this Jest cannot require it. The packages above load because
// they carry a CommonJS build, not because this Jest was configured for ESM.
test('jose alone cannot be required here', () => {
  expect(() => require('jose')).toThrow();
});
