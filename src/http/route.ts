import { METHODS } from 'node:http';
import { Router, type RouterMiddleware } from '@koa/router';
import type { Access, PolicyRule } from '@product-service/bearer';
import type { AuthState } from '@product-service/bearer-koa';

export type RouteMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** One answer an operation may give: what it means, and the schema (a zod registry id) and example of its body. */
export interface Answer {
  readonly description: string;
  /**
   * Of the JSON body: a zod registry id (`Product`), or a JSON Schema written out. `Error` for every status from 400
   * unless said otherwise; none below 400 unless given.
   */
  readonly schema?: string | Readonly<Record<string, unknown>>;
  readonly example?: unknown;
  readonly headers?: Readonly<Record<string, { readonly description: string; readonly schema: object }>>;
}

/** An OpenAPI parameter object (path, query or header). */
export type Parameter = Readonly<Record<string, unknown>>;

/** What the contract says of a route: everything but the access, which the route itself declares. */
export interface RouteDoc {
  readonly operationId: string;
  readonly summary: string;
  readonly tag: 'products' | 'health';
  readonly parameters?: readonly Parameter[];
  readonly request?: { readonly type: string; readonly schema: string; readonly example: unknown };
  /** Every status the handler itself answers; those of authentication and the store are added from `access`. */
  readonly answers: Readonly<Record<number, Answer | string>>;
  /** Whether the route calls the product store, and so may answer 503 when it cannot. */
  readonly usesStore?: boolean;
}

/**
 * A route, declared once: method, path, who may call it, what it answers, and its handler. The router, the route
 * policy and the OpenAPI document are all derived from the one list, so they cannot drift apart.
 */
export interface Route {
  readonly method: RouteMethod;
  /** In @koa/router's syntax (`/products/:id`). */
  readonly path: string;
  readonly access: Access;
  readonly handler: RouterMiddleware<AuthState>;
  /** Absent for what the contract does not describe (the docs page and its files). */
  readonly doc?: RouteDoc;
}

/** The route policy's rules: who may call what, straight from the routes. */
export function policyRulesOf(routes: readonly Route[]): readonly PolicyRule[] {
  return routes.map(({ method, path, access }) => ({ method, path, access }));
}

export function createRouter(routes: readonly Route[]): Router<AuthState> {
  // Every method Node's parser lets through counts as known, so that allowedMethods() answers one the service does not
  // serve with 405 and Allow (RFC 9110 §15.5.6) on a path that exists, and 404 on one that does not: never its 501,
  // a 5xx that a client's request alone would cause.
  const router = new Router<AuthState>({ methods: METHODS });
  // A GET route answers HEAD too: the router adds it (RFC 9110 §9.3.2).
  for (const { method, path, handler } of routes) router.register(path, [method], handler);
  return router;
}
