// npm run example -- node: @product-service/bearer-node on a plain node:http server, a route table of its own.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAuthenticator, publicAccess, requireScopes, type Access, type Principal } from '@product-service/bearer';
import { createNodeBearer, writeRefusal } from '@product-service/bearer-node';
import { created, listening, products } from './catalog.js';
import { readConfig } from './config.js';

type Handler = (principal: Principal | undefined) => { status: number; body: unknown };

const config = readConfig(process.env);
const authenticator = createAuthenticator({ issuers: config.issuers });
const bearer = createNodeBearer({ authenticator });
const routes = new Map<string, { access: Access; handle: Handler }>([
  ['GET /hello', { access: publicAccess, handle: () => ({ status: 200, body: { hello: 'world' } }) }],
  ['GET /products', { access: requireScopes('products/read'), handle: () => ({ status: 200, body: products }) }],
  [
    'POST /products',
    { access: requireScopes('products/write'), handle: (who) => ({ status: 201, body: created(who?.subject) }) },
  ],
  // RFC 9728: ['GET /.well-known/oauth-protected-resource', { access: publicAccess, … }] goes here (in progress).
]);

async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const route = routes.get(`${req.method ?? ''} ${(req.url ?? '/').split('?')[0] ?? '/'}`);
  // An unknown route passes no access: closed by default, a valid token is needed before the 404.
  const outcome = await bearer.authenticate(req, route?.access);
  if ('refusal' in outcome) return writeRefusal(res, outcome.refusal);
  const { status, body } = route ? route.handle(outcome.principal) : { status: 404, body: { error: 'not_found' } };
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

const server = createServer((req, res) => void serve(req, res));
server.listen(config.port, () => console.log(listening('node', (server.address() as AddressInfo).port)));
// Fetch the keys now, so that the first request does not wait; until they can be had, requests get 503.
authenticator.warmUp().catch((error: unknown) => console.error('keys not fetched yet:', String(error)));
