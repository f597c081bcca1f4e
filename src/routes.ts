import { authenticatedAccess, publicAccess, type Authenticator } from '@product-service/bearer';
import type { AuthCounters } from '@product-service/bearer-koa';
import { docsRoutes } from './http/docs.js';
import type { Route } from './http/route.js';
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
}

/**
 * Every route of the service, each declared once: the table of contents of the API. Anything not listed needs a
 * valid token (and, with no route behind it, answers 404), so the service is closed by default.
 */
export function createRoutes(deps: RouteDeps): readonly Route[] {
  return [
    {
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
      // The load balancer's health check: open, cheap, and independent of the issuer and the store.
      handler(ctx) {
        ctx.body = { message: 'hello' };
      },
    },
    {
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
      // 200 once every issuer's key set is held, 503 while tokens cannot be checked.
      handler(ctx) {
        const ready = deps.authenticator.ready();
        ctx.status = ready ? 200 : 503;
        ctx.body = {
          ready,
          issuers: deps.authenticator.issuers.map(({ issuer, keySet }) => ({ issuer, ...keySet.status() })),
        };
      },
    },
    {
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
            example: {
              auth: { accepted: 1520, refused: { missing: 3, expired: 12, insufficient_scope: 1 } },
              tokenCache: { tokenCacheHits: 1490, tokenCacheMisses: 30 },
              keySets: [
                { issuer: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123', fetches: 2, failures: 0 },
              ],
            },
          },
        },
      },
      handler(ctx) {
        ctx.body = {
          auth: deps.authCounters,
          tokenCache: deps.authenticator.stats,
          keySets: deps.authenticator.issuers.map(({ issuer, keySet }) => ({ issuer, ...keySet.stats })),
        };
      },
    },
    {
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
        ctx.body = deps.openApiDocument();
      },
    },
    ...docsRoutes({ tokenUrl: deps.tokenUrl }),
    ...productRoutes(deps.products),
  ];
}
