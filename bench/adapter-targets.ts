// Child process of `npm run bench`, section 5: each adapter of ours beside the middleware its framework's users pick
// today, every server on its own port in this one process, all guarding `GET /bench` with the scope products/read.
// Every side checks the signature (RS256 only), the issuer, the audience and the expiry; ours also checks the token's
// size, type and claims, the scope, and answers every refusal per RFC 6750.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { auth as expressOauth2JwtBearer, requiredScopes as expressRequiredScopes } from 'express-oauth2-jwt-bearer';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import fastifyJwt, { type TokenOrHeader } from '@fastify/jwt';
import buildGetJwks from 'get-jwks';
import Koa from 'koa';
import koaJwt from 'koa-jwt';
import jwksRsa from 'jwks-rsa';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createAuthenticator, createRoutePolicy, oidc, requireScopes } from '@product-service/bearer';
import { bearer as expressBearer } from '@product-service/bearer-express';
import { bearer as fastifyBearer } from '@product-service/bearer-fastify';
import { createBearerAuth, type AuthState } from '@product-service/bearer-koa';
import { createNodeBearer, writeRefusal } from '@product-service/bearer-node';

const [issuer = '', jwksUri = '', audience = ''] = process.argv.slice(2);
const body = JSON.stringify({ items: [1, 2, 3] });

const readBench = requireScopes('products/read');
const policy = createRoutePolicy([{ method: 'GET', path: '/bench', access: readBench }]);

/**
 * Ours, one authenticator per adapter as each would be deployed: the issuer's keys fetched once at start, every token
 * verified (the verified-token cache is off, as the incumbents have none), the audience required as theirs require it.
 */
async function ourAuthenticator() {
  const authenticator = createAuthenticator({
    issuers: [oidc({ issuer, jwksUri, audience: [audience], algorithms: ['RS256'] })],
    policy,
    tokenCache: false,
  });
  await authenticator.warmUp();
  return authenticator;
}

function hasScope(scope: unknown): boolean {
  return typeof scope === 'string' && scope.split(' ').includes('products/read');
}

// Express: express-oauth2-jwt-bearer (Auth0), its JWKS and issuer given, its own scope guard.
const expressIncumbent = express();
expressIncumbent.use(expressOauth2JwtBearer({ issuer, jwksUri, audience, tokenSigningAlg: 'RS256' }));
expressIncumbent.get('/bench', expressRequiredScopes('products/read'), (_req, res) => {
  res.type('json').send(body);
});
// Its refusals are errors with a status and a challenge, written by the application's error handler.
expressIncumbent.use(
  (error: { status?: number; headers?: Record<string, string> }, _req: Request, res: Response, _next: NextFunction) => {
    res
      .status(error.status ?? 500)
      .set(error.headers ?? {})
      .end();
  },
);

// Fastify: @fastify/jwt with get-jwks for the issuer's keys (its README's JWKS recipe), the scope checked in a hook.
const fastifyIncumbent = Fastify();
const getJwks = buildGetJwks({ issuersWhitelist: [issuer], providerDiscovery: false });
await fastifyIncumbent.register(fastifyJwt, {
  decode: { complete: true },
  secret: (_request: FastifyRequest, token: TokenOrHeader) => {
    const { header, payload } = token as { header: { kid?: string; alg?: string }; payload: { iss?: string } };
    return getJwks.getPublicKey({ kid: header.kid ?? '', alg: header.alg ?? '', domain: payload.iss ?? '' });
  },
  verify: { allowedIss: issuer, allowedAud: audience, algorithms: ['RS256'] },
});
fastifyIncumbent.addHook('onRequest', async (request, reply) => {
  try {
    const claims = await request.jwtVerify<{ scope?: string }>();
    if (!hasScope(claims.scope)) await reply.code(403).send();
  } catch {
    await reply.code(401).send();
  }
});
fastifyIncumbent.get('/bench', async (_request, reply) => reply.type('application/json').send(body));

// Koa: koa-jwt + jwks-rsa, as the 2018 article set them up, plus the issuer and audience.
const koaIncumbent = new Koa();
koaIncumbent.use(
  koaJwt({ secret: jwksRsa.koaJwtSecret({ cache: true, jwksUri }), algorithms: ['RS256'], issuer, audience }),
);
koaIncumbent.use((ctx) => {
  if (!hasScope((ctx.state as { user?: { scope?: unknown } }).user?.scope)) {
    ctx.status = 403;
    return;
  }
  ctx.type = 'json';
  ctx.body = body;
});

// node:http: jose's jwtVerify with createRemoteJWKSet, as jose's README shows it.
const remoteKeys = createRemoteJWKSet(new URL(jwksUri));
const nodeIncumbent = createServer((req: IncomingMessage, res: ServerResponse) => {
  const token = (req.headers.authorization ?? '').slice('Bearer '.length);
  jwtVerify(token, remoteKeys, { issuer, audience, algorithms: ['RS256'] }).then(
    ({ payload }) => {
      res.writeHead(hasScope(payload['scope']) ? 200 : 403, { 'content-type': 'application/json' });
      res.end(body);
    },
    () => {
      res.writeHead(401);
      res.end();
    },
  );
});

// Ours, the same route through each adapter.
const expressOurs = express();
expressOurs.use(expressBearer({ authenticator: await ourAuthenticator(), policy }));
expressOurs.get('/bench', (_req, res) => {
  res.type('json').send(body);
});

const fastifyOurs = Fastify();
await fastifyOurs.register(fastifyBearer, { authenticator: await ourAuthenticator() });
fastifyOurs.get('/bench', { config: { access: readBench } }, async (_request, reply) =>
  reply.type('application/json').send(body),
);

const koaOurs = new Koa<AuthState>();
koaOurs.use(createBearerAuth({ authenticator: await ourAuthenticator(), policy }));
koaOurs.use((ctx) => {
  ctx.type = 'json';
  ctx.body = body;
});

const nodeBearer = createNodeBearer({ authenticator: await ourAuthenticator(), policy });
const nodeOurs = createServer((req, res) => {
  const answer = (outcome: Awaited<ReturnType<typeof nodeBearer.authenticate>>) => {
    if ('refusal' in outcome) {
      writeRefusal(res, outcome.refusal);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  };
  const outcome = nodeBearer.authenticate(req);
  if (outcome instanceof Promise) outcome.then(answer, () => res.writeHead(500).end());
  else answer(outcome);
});

type Listening = { address(): AddressInfo | string | null };
function portOf(server: Listening): number {
  return (server.address() as AddressInfo).port;
}
async function listenNode(server: ReturnType<typeof createServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return portOf(server);
}
async function listenExpress(app: ReturnType<typeof express>): Promise<number> {
  return listenNode(createServer(app));
}
async function listenKoa(app: Koa<AuthState> | Koa): Promise<number> {
  const callback = app.callback();
  return listenNode(createServer((req, res) => void callback(req, res)));
}
async function listenFastify(app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return portOf(app.server);
}

const ports = {
  expressOurs: await listenExpress(expressOurs),
  expressIncumbent: await listenExpress(expressIncumbent),
  fastifyOurs: await listenFastify(fastifyOurs),
  fastifyIncumbent: await listenFastify(fastifyIncumbent),
  koaOurs: await listenKoa(koaOurs),
  koaIncumbent: await listenKoa(koaIncumbent),
  nodeOurs: await listenNode(nodeOurs),
  nodeIncumbent: await listenNode(nodeIncumbent),
};
process.stdout.write(`${JSON.stringify(ports)}\n`);
