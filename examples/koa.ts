// npm run example -- koa: @product-service/bearer-koa, the route policy handed to the middleware.
import Router from '@koa/router';
import Koa from 'koa';
import type { AddressInfo } from 'node:net';
import {
  createAuthenticator,
  createRoutePolicy,
  protectedResourceMetadata,
  publicAccess,
  requireGroups,
  requireScopes,
} from '@product-service/bearer';
import { createBearerAuth, type AuthState } from '@product-service/bearer-koa';
import { adminGroup, created, listening, notFound, products, remove } from './catalog.js';
import { readConfig } from './config.js';

const config = readConfig(process.env);
// Every challenge names the metadata (RFC 9728 §5.1), so that a client can find the issuers and scopes.
const authenticator = createAuthenticator({
  issuers: config.issuers,
  resourceMetadataUrl: config.resourceMetadataUrl,
  dpop: config.dpop,
});
// Closed by default: a path no rule names needs a valid token (401 without one, then 404).
const policy = createRoutePolicy([
  { method: 'GET', path: '/hello', access: publicAccess },
  // RFC 9728 §3: a client reads the metadata before it has a token.
  { method: 'GET', path: config.resourceMetadataPath, access: publicAccess },
  { method: 'GET', path: '/products', access: requireScopes('products/read') },
  { method: 'POST', path: '/products', access: requireScopes('products/write') },
  // People in the group only: a machine client has no groups, and this rule names no other way in.
  { method: 'DELETE', path: '/products/:id', access: requireGroups(adminGroup) },
]);
// Built once from the issuers and the policy: scopes_supported is every scope a rule asks for.
const metadata = protectedResourceMetadata({ resource: config.resource, issuers: config.issuers, policy });

const router = new Router<AuthState>();
router.get('/hello', (ctx) => void (ctx.body = { hello: 'world' }));
router.get(config.resourceMetadataPath, (ctx) => void (ctx.body = metadata));
router.get('/products', (ctx) => void (ctx.body = products));
router.post('/products', (ctx) => {
  ctx.status = 201;
  ctx.body = created(ctx.state.principal?.subject);
});
router.delete('/products/:id', (ctx) => {
  if (remove(ctx.params.id)) {
    ctx.status = 204;
  } else {
    ctx.status = 404;
    ctx.body = notFound;
  }
});

const app = new Koa<AuthState>();
app.use(createBearerAuth({ authenticator, policy }));
app.use(router.routes());
const server = app.listen(config.port, () =>
  console.log(listening('koa', (server.address() as AddressInfo).port, config.resourceMetadataUrl)),
);
// Fetch the keys now, so that the first request does not wait; until they can be had, requests get 503.
authenticator.warmUp().catch((error: unknown) => console.error('keys not fetched yet:', String(error)));
