// npm run example -- fastify: @product-service/bearer-fastify, each route's access in its config.
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import {
  createAuthenticator,
  protectedResourceMetadata,
  publicAccess,
  requireGroups,
  requireScopes,
  type PolicyRule,
} from '@product-service/bearer';
import { bearer } from '@product-service/bearer-fastify';
import { adminGroup, created, listening, notFound, products, remove } from './catalog.js';
import { readConfig } from './config.js';

const config = readConfig(process.env);
// Every challenge names the metadata (RFC 9728 §5.1), so that a client can find the issuers and scopes.
const authenticator = createAuthenticator({
  issuers: config.issuers,
  resourceMetadataUrl: config.resourceMetadataUrl,
  dpop: config.dpop,
});

const app = Fastify();
// Each route's config.access, as Fastify registers the route (only the access counts for the metadata's scopes).
const rules: PolicyRule[] = [];
app.addHook('onRoute', ({ url, config }) => {
  if (config?.access) rules.push({ method: '*', path: url, access: config.access });
});
// Closed by default: a route whose config names no access, and any unknown path, needs a valid token.
await app.register(bearer, { authenticator });
app.get('/hello', { config: { access: publicAccess } }, () => ({ hello: 'world' }));
app.get('/products', { config: { access: requireScopes('products/read') } }, () => products);
app.post('/products', { config: { access: requireScopes('products/write') } }, async (request, reply) =>
  reply.code(201).send(created(request.principal?.subject)),
);
// People in the group only: a machine client has no groups, and this rule names no other way in.
app.delete<{ Params: { id: string } }>(
  '/products/:id',
  { config: { access: requireGroups(adminGroup) } },
  async (request, reply) => (remove(request.params.id) ? reply.code(204).send() : reply.code(404).send(notFound)),
);
// RFC 9728 §3: public, since a client reads the metadata before it has a token; built once, from every route above.
const metadata = protectedResourceMetadata({ resource: config.resource, issuers: config.issuers, policy: { rules } });
app.get(config.resourceMetadataPath, { config: { access: publicAccess } }, () => metadata);

await app.listen({ port: config.port, host: '::' });
console.log(listening('fastify', (app.server.address() as AddressInfo).port, config.resourceMetadataUrl));
// Fetch the keys now, so that the first request does not wait; until they can be had, requests get 503.
authenticator.warmUp().catch((error: unknown) => console.error('keys not fetched yet:', String(error)));
