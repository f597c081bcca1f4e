import { METHODS } from 'node:http';
import { Router, type RouterMiddleware } from '@koa/router';
import type { Access, PolicyRule } from '@product-service/bearer';
import { access, type AuthState } from '@product-service/bearer-koa';

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
 * A route, declared once: method, path, who may call it, what it answers, and its handler. The route table (below)
 * and the OpenAPI document are both derived from the one list, so they cannot drift apart.
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

/** Who may call what, straight from the routes, as policy rules: what the RFC 9728 metadata reads its scopes from. */
export function policyRulesOf(routes: readonly Route[]): readonly PolicyRule[] {
  return routes.map(({ method, path, access }) => ({ method, path, access }));
}

/** Where a path lands: the template of its route (whatever the method: a 405 still has a route). */
export interface RouteMatch {
  readonly template: string;
  /** Whether a route on this path calls the product store, so that its 503s are store outages. */
  readonly usesStore: boolean;
}

/**
 * The routes behind one matcher. The router dispatches with it; the bearer middleware reads each route's `access()`
 * through it (`createBearerAuth({ router })`) before the route runs; span naming asks it for the template. A path
 * the router would not serve (another case, a trailing slash, an encoded character) can therefore neither be opened
 * by the policy nor named after a route: all three are the same question put to @koa/router.
 */
export interface RouteTable {
  readonly routes: readonly Route[];
  readonly router: Router<AuthState>;
  match(path: string): RouteMatch | undefined;
}

export function createRouteTable(routes: readonly Route[]): RouteTable {
  // Every method Node's parser lets through counts as known, so that allowedMethods() answers one the service does not
  // serve with 405 and Allow (RFC 9110 §15.5.6) on a path that exists, and 404 on one that does not: never its 501,
  // a 5xx that a client's request alone would cause.
  const router = new Router<AuthState>({ methods: METHODS });
  const matches = new Map<string, RouteMatch>();
  // A GET route answers HEAD too: the router adds it (RFC 9110 §9.3.2).
  for (const { method, path, access: rule, handler, doc } of routes) {
    router.register(path, [method], [access(rule), handler]);
    const usesStore = (matches.get(path)?.usesStore ?? false) || (doc?.usesStore ?? false);
    matches.set(path, { template: path, usesStore });
  }
  return {
    routes,
    router,
    match(path) {
      // The method does not narrow `path`, the layers that match the path alone: any method serves to ask.
      const layer = router.match(path, 'GET').path.find(({ methods }) => methods.length > 0);
      return typeof layer?.path === 'string' ? matches.get(layer.path) : undefined;
    },
  };
}
