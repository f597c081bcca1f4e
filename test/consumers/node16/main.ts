// A TypeScript project compiled to CommonJS (`module: node16`; its package.json has no "type"), as
// test/packages-publish.test.ts builds it against the packed tarballs: every package resolves to its CommonJS build
// and declarations. Run, it serves GET /items through each adapter, and prints what each answered without a token
// and with one the test kit minted.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cognito, createAuthenticator, type Authenticator, type Principal } from '@product-service/bearer';
import { defaults } from '@product-service/bearer/defaults';
import { authOf, bearer as expressBearer } from '@product-service/bearer-express';
import { bearer as fastifyBearer } from '@product-service/bearer-fastify';
import { createBearerAuth, type AuthState } from '@product-service/bearer-koa';
import { createNodeBearer, writeRefusal } from '@product-service/bearer-node';
import { startTestIssuer } from '@product-service/bearer-testing';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
// @ts-expect-error TS1479: jose is ESM only, so a CommonJS module cannot import it; the negative control that this
// file is compiled as CommonJS, and that the packages above resolved to their CommonJS declarations.
import { jwtVerify } from 'jose';

type Adapter = (authenticator: Authenticator) => Promise<Server>;

const adapters: Record<string, Adapter> = {
  express: async (authenticator) => {
    const app = express();
    app.use(expressBearer({ authenticator }));
    app.get('/items', (req, res) => {
      const principal: Principal | undefined = authOf(req)?.principal;
      res.json({ subject: principal?.subject });
    });
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
    const app = new Koa<AuthState>();
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

interface Answer {
  status: number | undefined;
  challenge: string | undefined;
  body: string;
}

function get(server: Server, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      const req = request({ port, host: '127.0.0.1', path: '/items', headers }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () =>
          server.close(() => resolve({ status: res.statusCode, challenge: res.headers['www-authenticate'], body })),
        );
      });
      req.on('error', reject);
      req.end();
    });
  });
}

async function main(): Promise<void> {
  // The declarations are real types, not `any`: a number is not a principal.
  // @ts-expect-error TS2322
  const notAPrincipal: Principal = 42;
  void notAPrincipal;

  const issuer = await startTestIssuer();
  const authenticator = createAuthenticator({ issuers: [cognito(issuer.cognitoProfile())] });
  const token = await issuer.cognitoAccessToken({ sub: 'node16-client' });
  const answers: Record<string, { withoutToken: Answer; withToken: Answer }> = {};
  for (const [name, adapter] of Object.entries(adapters)) {
    answers[name] = {
      withoutToken: await get(await adapter(authenticator), {}),
      withToken: await get(await adapter(authenticator), { authorization: `Bearer ${token}` }),
    };
  }
  await issuer.close();
  console.log(JSON.stringify({ clockToleranceSec: defaults.clockToleranceSec, answers }));
}

void main();
