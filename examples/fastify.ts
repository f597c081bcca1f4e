// npm run example -- fastify: @product-service/bearer-fastify, each route's access in its config.
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { createAuthenticator, publicAccess, requireScopes } from '@product-service/bearer';
import { bearer } from '@product-service/bearer-fastify';
import { created, listening, products } from './catalog.js';
import { readConfig } from './config.js';

const config = readConfig(process.env);
const authenticator = createAuthenticator({ issuers: config.issuers });

const app = Fastify();
// Closed by default: a route whose config names no access, and any unknown path, needs a valid token.
await app.register(bearer, { authenticator });
app.get('/hello', { config: { access: publicAccess } }, () => ({ hello: 'world' }));
app.get('/products', { config: { access: requireScopes('products/read') } }, () => products);
app.post('/products', { config: { access: requireScopes('products/write') } }, async (request, reply) =>
  reply.code(201).send(created(request.principal?.subject)),
);
// RFC 9728: app.get('/.well-known/oauth-protected-resource', { config: { access: publicAccess } }, …) goes here.

await app.listen({ port: config.port, host: '::' });
console.log(listening('fastify', (app.server.address() as AddressInfo).port));
// Fetch the keys now, so that the first request does not wait; until they can be had, requests get 503.
authenticator.warmUp().catch((error: unknown) => console.error('keys not fetched yet:', String(error)));
