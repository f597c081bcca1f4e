// npm run example -- express: @product-service/bearer-express, app-level and closed by default, scopes per route.
import express from 'express';
import type { AddressInfo } from 'node:net';
import {
  createAuthenticator,
  createRoutePolicy,
  protectedResourceMetadata,
  publicAccess,
  requireGroups,
  requireScopes,
} from '@product-service/bearer';
import { authOf, bearer, requireAccess } from '@product-service/bearer-express';
import { adminGroup, created, listening, notFound, products, remove } from './catalog.js';
import { readConfig } from './config.js';

const config = readConfig(process.env);
// Every challenge names the metadata (RFC 9728 §5.1), so that a client can find the issuers and scopes.
const authenticator = createAuthenticator({
  issuers: config.issuers,
  resourceMetadataUrl: config.resourceMetadataUrl,
  dpop: config.dpop,
});
// Closed by default: only what the policy opens goes without a token; every other path needs a valid one.
const policy = createRoutePolicy([
  { method: 'GET', path: '/hello', access: publicAccess },
  // RFC 9728 §3: a client reads the metadata before it has a token.
  { method: 'GET', path: config.resourceMetadataPath, access: publicAccess },
]);
// What the route middleware asks for, named once: the metadata's scopes_supported lists the same scopes.
const read = requireScopes('products/read');
const write = requireScopes('products/write');
// People in the group only: a machine client has no groups, and this rule names no other way in.
const admins = requireGroups(adminGroup);
const metadata = protectedResourceMetadata({
  resource: config.resource,
  issuers: config.issuers,
  policy: {
    rules: [
      ...policy.rules,
      { method: 'GET', path: '/products', access: read },
      { method: 'POST', path: '/products', access: write },
      { method: 'DELETE', path: '/products/:id', access: admins },
    ],
  },
});

const app = express();
app.use(bearer({ authenticator, policy }));
app.get('/hello', (_req, res) => void res.json({ hello: 'world' }));
app.get(config.resourceMetadataPath, (_req, res) => void res.json(metadata));
app.get('/products', requireAccess(read), (_req, res) => void res.json(products));
app.post(
  '/products',
  requireAccess(write),
  (req, res) => void res.status(201).json(created(authOf(req)?.principal.subject)),
);
app.delete('/products/:id', requireAccess(admins), (req, res) => {
  if (remove(req.params.id)) res.status(204).end();
  else res.status(404).json(notFound);
});

const server = app.listen(config.port, () =>
  console.log(listening('express', (server.address() as AddressInfo).port, config.resourceMetadataUrl)),
);
// Fetch the keys now, so that the first request does not wait; until they can be had, requests get 503.
authenticator.warmUp().catch((error: unknown) => console.error('keys not fetched yet:', String(error)));
