import { Router } from '@koa/router';
import {
  authenticatedAccess,
  createRoutePolicy,
  publicAccess,
  type AuthCounters,
  type AuthState,
  type PolicyRule,
  type Verifier,
} from './auth/index.js';
import { addDocsRoutes } from './http/docs.js';
import { addProductRoutes, productPolicyRules, type ProductRouteDeps } from './products/routes.js';

/**
 * Who may call what. Anything not listed here needs a valid token (and, with no route behind it, answers 404), so a
 * route added to the router without a rule is closed, never open.
 */
export const policyRules: readonly PolicyRule[] = [
  { method: 'GET', path: '/hello', access: publicAccess },
  { method: 'GET', path: '/ready', access: publicAccess },
  { method: 'GET', path: '/openapi.json', access: publicAccess },
  { method: 'GET', path: '/docs', access: publicAccess },
  { method: 'GET', path: '/docs/:file', access: publicAccess },
  { method: 'GET', path: '/metrics', access: authenticatedAccess },
  ...productPolicyRules,
];

export const routePolicy = createRoutePolicy(policyRules);

export interface RouterDeps {
  readonly verifier: Verifier;
  readonly authCounters: AuthCounters;
  readonly products: ProductRouteDeps;
  readonly openApiDocument: Record<string, unknown>;
  readonly tokenUrl: string | undefined;
}

export function createRouter(deps: RouterDeps): Router<AuthState> {
  const router = new Router<AuthState>();

  // The load balancer's health check: open, cheap, and independent of the issuer and the store.
  router.get('/hello', (ctx) => {
    ctx.body = { message: 'hello' };
  });

  // Readiness: 200 once every issuer's key set is held, 503 while tokens cannot be checked.
  router.get('/ready', (ctx) => {
    const ready = deps.verifier.ready();
    ctx.status = ready ? 200 : 503;
    ctx.body = {
      ready,
      issuers: deps.verifier.issuers.map(({ issuer, keySet }) => ({ issuer, ...keySet.status() })),
    };
  });

  router.get('/metrics', (ctx) => {
    ctx.body = {
      auth: deps.authCounters,
      tokenCache: deps.verifier.stats,
      keySets: deps.verifier.issuers.map(({ issuer, keySet }) => ({ issuer, ...keySet.stats })),
    };
  });

  router.get('/openapi.json', (ctx) => {
    ctx.body = deps.openApiDocument;
  });

  addDocsRoutes(router, { tokenUrl: deps.tokenUrl });
  addProductRoutes(router, deps.products);
  return router;
}
