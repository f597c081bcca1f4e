// npm run example -- node: @product-service/bearer-node on a plain node:http server, a route table of its own.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createAuthenticator,
  protectedResourceMetadata,
  publicAccess,
  requireScopes,
  type PolicyRule,
  type Principal,
} from '@product-service/bearer';
import { createNodeBearer, writeRefusal } from '@product-service/bearer-node';
import { created, listening, products } from './catalog.js';
import { readConfig } from './config.js';

type Route = PolicyRule & { handle: (principal: Principal | undefined) => { status: number; body: unknown } };

const config = readConfig(process.env);
// Every challenge names the metadata (RFC 9728 §5.1), so that a client can find the issuers and scopes.
const authenticator = createAuthenticator({ issuers: config.issuers, resourceMetadataUrl: config.resourceMetadataUrl });
const bearer = createNodeBearer({ authenticator });
const routes: Route[] = [
  { method: 'GET', path: '/hello', access: publicAccess, handle: () => ({ status: 200, body: { hello: 'world' } }) },
  {
    method: 'GET',
    path: '/products',
    access: requireScopes('products/read'),
    handle: () => ({ status: 200, body: products }),
  },
  {
    method: 'POST',
    path: '/products',
    access: requireScopes('products/write'),
    handle: (who) => ({ status: 201, body: created(who?.subject) }),
  },
  // RFC 9728 §3: public, since a client reads the metadata before it has a token.
  {
    method: 'GET',
    path: config.resourceMetadataPath,
    access: publicAccess,
    handle: () => ({ status: 200, body: metadata }),
  },
];
// Built once from the issuers and the route table: scopes_supported is every scope a route asks for.
const metadata = protectedResourceMetadata({
  resource: config.resource,
  issuers: config.issuers,
  policy: { rules: routes },
});

async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const route = routes.find((r) => r.method === req.method && r.path === path);
  // An unknown route passes no access: closed by default, a valid token is needed before the 404.
  const outcome = await bearer.authenticate(req, route?.access);
  if ('refusal' in outcome) return writeRefusal(res, outcome.refusal);
  const { status, body } = route ? route.handle(outcome.principal) : { status: 404, body: { error: 'not_found' } };
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

const server = createServer((req, res) => void serve(req, res));
server.listen(config.port, () =>
  console.log(listening('node', (server.address() as AddressInfo).port, config.resourceMetadataUrl)),
);
// Fetch the keys now, so that the first request does not wait; until they can be had, requests get 503.
authenticator.warmUp().catch((error: unknown) => console.error('keys not fetched yet:', String(error)));
