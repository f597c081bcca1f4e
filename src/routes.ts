import {
  authenticatedAccess,
  protectedResourceMetadata,
  protectedResourceMetadataPath,
  publicAccess,
  type Authenticator,
  type IssuerConfig,
} from '@product-service/bearer';
import type { AuthCounters } from '@product-service/bearer-koa';
import { docsRoutes } from './http/docs.js';
import { policyRulesOf, type Route } from './http/route.js';
import { productRoutes, type ProductRouteDeps } from './products/routes.js';

const readiness = {
  type: 'object',
  properties: {
    ready: { type: 'boolean' },
    issuers: {
      type: 'array',
      items: {
        type: 'object',
        properties: { issuer: { type: 'string' }, ready: { type: 'boolean' }, stale: { type: 'boolean' } },
      },
    },
  },
};

export interface RouteDeps {
  readonly authenticator: Pick<Authenticator, 'ready' | 'issuers' | 'stats'>;
  readonly authCounters: AuthCounters;
  readonly products: ProductRouteDeps;
  /** The OpenAPI document, which is made from these very routes once they exist. */
  readonly openApiDocument: () => Record<string, unknown>;
  readonly tokenUrl: string | undefined;
  /** The resource identifier and the issuers, when the service publishes its RFC 9728 metadata. */
  readonly resourceMetadata?: { readonly resource: string; readonly issuers: readonly IssuerConfig[] } | undefined;
}

/**
 * Every route of the service, each declared once: the table of contents of the API. Anything not listed needs a
 * valid token (and, with no route behind it, answers 404), so the service is closed by default.
 */
export function createRoutes(deps: RouteDeps): readonly Route[] {
  const routes: Route[] = [
    helloRoute,
    readyRoute(deps),
    metricsRoute(deps),
    openApiRoute(deps),
    ...docsRoutes({ tokenUrl: deps.tokenUrl }),
    ...productRoutes(deps.products),
  ];
  if (deps.resourceMetadata) routes.push(resourceMetadataRoute(deps.resourceMetadata, routes));
  return routes;
}

/** The load balancer's health check: open, cheap, and independent of the issuer and the store. */
const helloRoute: Route = {
  method: 'GET',
  path: '/hello',
  access: publicAccess,
  doc: {
    operationId: 'hello',
    summary: 'Health check',
    tag: 'health',
    answers: {
      200: {
        description: 'The service is up',
        schema: { type: 'object', properties: { message: { type: 'string' } } },
        example: { message: 'hello' },
      },
    },
  },
  handler(ctx) {
    ctx.body = { message: 'hello' };
  },
};

/** 200 once every issuer's key set is held, 503 while tokens cannot be checked. */
function readyRoute({ authenticator }: RouteDeps): Route {
  return {
    method: 'GET',
    path: '/ready',
    access: publicAccess,
    doc: {
      operationId: 'ready',
      summary: 'Readiness: the issuer keys are held',
      tag: 'health',
      answers: {
        200: { description: 'Ready', schema: readiness },
        503: { description: 'Tokens cannot be checked now', schema: readiness },
      },
    },
    handler(ctx) {
      const ready = authenticator.ready();
      ctx.status = ready ? 200 : 503;
      ctx.body = {
        ready,
        issuers: authenticator.issuers.map(({ issuer, keySet }) => ({ issuer, ...keySet.status() })),
      };
    },
  };
}

const metricsExample = {
  auth: { accepted: 1520, refused: { missing: 3, expired: 12, insufficient_scope: 1 } },
  tokenCache: { tokenCacheHits: 1490, tokenCacheMisses: 30 },
  keySets: [{ issuer: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123', fetches: 2, failures: 0 }],
};

/** The service's own counters, for any valid token. */
function metricsRoute({ authenticator, authCounters }: RouteDeps): Route {
  return {
    method: 'GET',
    path: '/metrics',
    access: authenticatedAccess,
    doc: {
      operationId: 'metrics',
      summary: 'Counters: accepted and refused requests by reason, token cache, key sets',
      tag: 'health',
      answers: {
        200: {
          description: 'The counters',
          schema: {
            type: 'object',
            properties: { auth: { type: 'object' }, tokenCache: { type: 'object' }, keySets: { type: 'array' } },
          },
          example: metricsExample,
        },
      },
    },
    handler(ctx) {
      ctx.body = {
        auth: authCounters,
        tokenCache: authenticator.stats,
        keySets: authenticator.issuers.map(({ issuer, keySet }) => ({ issuer, ...keySet.stats })),
      };
    },
  };
}

function openApiRoute({ openApiDocument }: RouteDeps): Route {
  return {
    method: 'GET',
    path: '/openapi.json',
    access: publicAccess,
    doc: {
      operationId: 'openApi',
      summary: 'This document',
      tag: 'health',
      answers: { 200: { description: 'OpenAPI 3.1', schema: { type: 'object' } } },
    },
    handler(ctx) {
      ctx.body = openApiDocument();
    },
  };
}

const metadataSchema = {
  type: 'object',
  required: ['resource', 'bearer_methods_supported'],
  properties: {
    resource: { type: 'string', format: 'uri' },
    authorization_servers: { type: 'array', items: { type: 'string', format: 'uri' } },
    scopes_supported: { type: 'array', items: { type: 'string' } },
    bearer_methods_supported: { type: 'array', items: { const: 'header' } },
    resource_name: { type: 'string' },
    resource_documentation: { type: 'string', format: 'uri' },
  },
};

/**
 * RFC 9728 §3: the resource's metadata at its well-known path, public (a client reads it before it has a token),
 * built once from the issuers and from the scopes the other routes ask for, so that it cannot drift from them.
 */
function resourceMetadataRoute(
  { resource, issuers }: NonNullable<RouteDeps['resourceMetadata']>,
  routes: readonly Route[],
): Route {
  const document = protectedResourceMetadata({
    resource,
    issuers,
    policy: { rules: policyRulesOf(routes) },
    resourceName: 'ProductService',
    resourceDocumentation: new URL('/docs', resource).href,
  });
  return {
    method: 'GET',
    path: protectedResourceMetadataPath(resource),
    access: publicAccess,
    doc: {
      operationId: 'protectedResourceMetadata',
      summary: 'OAuth 2.0 protected resource metadata (RFC 9728): the issuers and scopes this API accepts',
      tag: 'health',
      answers: { 200: { description: 'The metadata (RFC 9728 §2)', schema: metadataSchema, example: document } },
    },
    handler(ctx) {
      // The same for every caller and changed only by a redeploy (RFC 9728 §7.10 suggests caching it).
      ctx.set('Cache-Control', 'public, max-age=3600');
      ctx.body = document;
    },
  };
}
