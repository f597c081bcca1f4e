// npm run example -- node: @product-service/bearer-node on a plain node:http server, a route table of its own.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createAuthenticator,
  protectedResourceMetadata,
  publicAccess,
  requireGroups,
  requireScopes,
  type PolicyRule,
  type Principal,
} from '@product-service/bearer';
import { createNodeBearer, writeRefusal } from '@product-service/bearer-node';
import { adminGroup, created, listening, notFound, products, remove } from './catalog.js';
import { readConfig } from './config.js';

type Params = Readonly<Record<string, string>>;
type Route = PolicyRule & {
  handle: (principal: Principal | undefined, params: Params) => { status: number; body?: unknown };
};

const config = readConfig(process.env);
// Every challenge names the metadata (RFC 9728 §5.1), so that a client can find the issuers and scopes.
const authenticator = createAuthenticator({
  issuers: config.issuers,
  resourceMetadataUrl: config.resourceMetadataUrl,
  dpop: config.dpop,
});
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
  // People in the group only: a machine client has no groups, and this rule names no other way in.
  {
    method: 'DELETE',
    path: '/products/:id',
    access: requireGroups(adminGroup),
    handle: (_who, { id }) => (remove(id) ? { status: 204 } : { status: 404, body: notFound }),
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

/** The route for a request and its parameters: a `:name` segment of a route's path matches any one segment. */
function match(method: string | undefined, path: string): { route: Route; params: Params } | undefined {
  const segments = path.split('/');
  for (const route of routes) {
    const pattern = route.path.split('/');
    if (route.method !== method || pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const fits = pattern.every((part, i) => {
      const segment = segments[i] ?? '';
      if (!part.startsWith(':')) return part === segment;
      params[part.slice(1)] = decodeURIComponent(segment);
      return segment !== '';
    });
    if (fits) return { route, params };
  }
  return undefined;
}

async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const found = match(req.method, path);
  // An unknown route passes no access: closed by default, a valid token is needed before the 404.
  const outcome = await bearer.authenticate(req, found?.route.access);
  if ('refusal' in outcome) return writeRefusal(res, outcome.refusal);
  const { status, body } = found
    ? found.route.handle(outcome.principal, found.params)
    : { status: 404, body: notFound };
  if (body === undefined) return void res.writeHead(status).end();
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

const server = createServer((req, res) => void serve(req, res));
server.listen(config.port, () =>
  console.log(listening('node', (server.address() as AddressInfo).port, config.resourceMetadataUrl)),
);
// Fetch the keys now, so that the first request does not wait; until they can be had, requests get 503.
authenticator.warmUp().catch((error: unknown) => console.error('keys not fetched yet:', String(error)));
