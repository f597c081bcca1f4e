// npm run example -- express: @product-service/bearer-express, app-level and closed by default, scopes per route.
import express from 'express';
import type { AddressInfo } from 'node:net';
import { createAuthenticator, createRoutePolicy, publicAccess } from '@product-service/bearer';
import { bearer, requireScopes } from '@product-service/bearer-express';
import { created, listening, products } from './catalog.js';
import { readConfig } from './config.js';

const config = readConfig(process.env);
const authenticator = createAuthenticator({ issuers: config.issuers });

const app = express();
// Closed by default: only what the policy opens goes without a token; every other path needs a valid one.
// RFC 9728 protected-resource metadata: add { method: 'GET', path: '/.well-known/oauth-protected-resource',
// access: publicAccess } to this policy and serve the document below (in progress).
app.use(
  bearer({ authenticator, policy: createRoutePolicy([{ method: 'GET', path: '/hello', access: publicAccess }]) }),
);
app.get('/hello', (_req, res) => void res.json({ hello: 'world' }));
app.get('/products', requireScopes('products/read'), (_req, res) => void res.json(products));
app.post(
  '/products',
  requireScopes('products/write'),
  (req, res) => void res.status(201).json(created(req.auth?.subject)),
);
// RFC 9728: app.get('/.well-known/oauth-protected-resource', …) goes here.

const server = app.listen(config.port, () => console.log(listening('express', (server.address() as AddressInfo).port)));
// Fetch the keys now, so that the first request does not wait; until they can be had, requests get 503.
authenticator.warmUp().catch((error: unknown) => console.error('keys not fetched yet:', String(error)));
