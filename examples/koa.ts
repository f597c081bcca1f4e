// npm run example -- koa: @product-service/bearer-koa, each route's access declared on the route with access().
import Router from '@koa/router';
import Koa from 'koa';
import type { AddressInfo } from 'node:net';
import {
  createAuthenticator,
  protectedResourceMetadata,
  publicAccess,
  requireGroups,
  requireScopes,
} from '@product-service/bearer';
import { access, createBearerAuth, declaredRules, type AuthState } from '@product-service/bearer-koa';
import { adminGroup, created, listening, notFound, products, remove } from './catalog.js';
import { readConfig } from './config.js';

const config = readConfig(process.env);
// Every challenge names the metadata (RFC 9728 §5.1), so that a client can find the issuers and scopes.
const authenticator = createAuthenticator({
  issuers: config.issuers,
  resourceMetadataUrl: config.resourceMetadataUrl,
  dpop: config.dpop,
});

// Each route declares its access once, on itself. Closed by default: a route that declares none, and a path no route
// matches, needs a valid token (401 without one, then 404).
const router = new Router<AuthState>();
router.get('/hello', access(publicAccess), (ctx) => void (ctx.body = { hello: 'world' }));
router.get('/products', access(requireScopes('products/read')), (ctx) => void (ctx.body = products));
router.post('/products', access(requireScopes('products/write')), (ctx) => {
  ctx.status = 201;
  ctx.body = created(ctx.state.principal?.subject);
});
// People in the group only: a machine client has no groups, and this rule names no other way in.
router.delete('/products/:id', access(requireGroups(adminGroup)), (ctx) => {
  if (remove(ctx.params.id)) {
    ctx.status = 204;
  } else {
    ctx.status = 404;
    ctx.body = notFound;
  }
});
// Built once from the issuers and the routes above: scopes_supported is every scope a route asks for.
const metadata = protectedResourceMetadata({
  resource: config.resource,
  issuers: config.issuers,
  policy: { rules: declaredRules(router) },
});
// RFC 9728 §3: public by default, since a client reads the metadata before it has a token.
router.get(config.resourceMetadataPath, (ctx) => void (ctx.body = metadata));

const app = new Koa<AuthState>();
app.use(createBearerAuth({ authenticator, router })); // reads each route's access() before the route runs
app.use(router.routes());
const server = app.listen(config.port, () =>
  console.log(listening('koa', (server.address() as AddressInfo).port, config.resourceMetadataUrl)),
);
// Fetch the keys now, so that the first request does not wait; until they can be had, requests get 503.
authenticator.warmUp().catch((error: unknown) => console.error('keys not fetched yet:', String(error)));
