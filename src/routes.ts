import Router from '@koa/router';
import { createRoutePolicy, publicAccess, type AuthState, type PolicyRule } from './auth/index.js';

/**
 * Who may call what. Anything not listed here needs a valid token (and, with no route behind it, answers 404), so a
 * route added to the router without a rule is closed, never open.
 */
export const policyRules: readonly PolicyRule[] = [{ method: 'GET', path: '/hello', access: publicAccess }];

export const routePolicy = createRoutePolicy(policyRules);

export function createRouter(): Router<AuthState> {
  const router = new Router<AuthState>();
  // The load balancer's health check: open, cheap, and independent of the issuer.
  router.get('/hello', (ctx) => {
    ctx.body = { message: 'hello' };
  });
  return router;
}
