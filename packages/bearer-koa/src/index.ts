import type { Middleware, Next, ParameterizedContext } from 'koa';
import type { Access, PolicyMethod, PolicyRule, Principal, Refusal, RefusalReason } from '@product-service/bearer';
import { createGate, settle, type AdapterOptions, type Settlement } from '@product-service/bearer/adapter';

/** What the middleware leaves on `ctx.state` for the handlers and the request log. */
export interface AuthState {
  principal?: Principal;
  authRefusal?: RefusalReason;
}

/** How many requests were accepted, and how many refused for each reason. */
export interface AuthCounters {
  accepted: number;
  refused: Partial<Record<RefusalReason, number>>;
}

/** Fresh counters, to pass as `counters` and read for metrics. */
export function createAuthCounters(): AuthCounters {
  return { accepted: 0, refused: {} };
}

/**
 * What the middleware asks of a router to read a route's access before the route runs: @koa/router's `match` (and
 * `matchHost`), the same calls its own dispatch makes. Any `Router` of @koa/router is one.
 */
export interface RouteTable {
  match(
    path: string,
    method: string,
  ): { readonly pathAndMethod: readonly { readonly methods: readonly string[]; readonly stack: readonly unknown[] }[] };
  matchHost?(host: string): boolean;
}

export interface BearerAuthExtras {
  /**
   * The router whose routes declare their access with `access(…)`. A route that declares none needs what the
   * policy says, else a valid token; so does a path no route matches (401 without a token, then 404).
   */
  readonly router?: RouteTable;
  readonly counters?: AuthCounters;
  /**
   * Writes a refusal. A service passes the writer of its own error type, so that every answer is written in one
   * place; alone, the middleware writes the status, headers and JSON body itself.
   */
  readonly answer?: (ctx: ParameterizedContext<AuthState>, refusal: Refusal) => void;
}

/** An authenticator of your own (and a `policy`), or the options to build one; then the Koa options. */
export type BearerAuthOptions = AdapterOptions & BearerAuthExtras;

function writeRefusal(ctx: ParameterizedContext<AuthState>, refusal: Refusal): void {
  ctx.status = refusal.status;
  ctx.set(refusal.headers);
  ctx.body = refusal.body;
}

type Context = ParameterizedContext<AuthState>;
type Check = (ctx: Context, next: Next, access: Access | undefined) => unknown;

// What `access()` finds on the context: the app-level middleware's check, and the access it checked the request
// against. Symbol-keyed properties of the context, which lives as long as the request and no longer.
const checkKey = Symbol('@product-service/bearer-koa check');
const checkedKey = Symbol('@product-service/bearer-koa checked');
type Checked = Context & { [checkKey]?: Check; [checkedKey]?: Access | undefined };

// Marks an `access()` middleware with its rule, so that the app-level middleware can read it off the route.
const declared = Symbol('@product-service/bearer-koa access');

function declaredOn(stack: readonly unknown[]): Access | undefined {
  for (const middleware of stack) {
    if (typeof middleware === 'function' && declared in middleware)
      return (middleware as { [declared]: Access })[declared];
  }
  return undefined;
}

/**
 * The access the router's routes declare for a request, or `undefined` for the policy's. Every matched layer may run
 * (a handler that calls `next()` hands over to the next match), so a route that declares nothing makes it the
 * policy's: nothing would check that route again. A declared one is checked again by its own `access()` when it
 * runs, if the request was checked against another.
 */
function routeAccess(router: RouteTable, ctx: Context): Access | undefined {
  // @koa/router's dispatch skips a router whose host does not match: so does its access.
  if (router.matchHost && !router.matchHost(ctx.host)) return undefined;
  let first: Access | undefined;
  for (const layer of router.match(ctx.path, ctx.method).pathAndMethod) {
    const own = declaredOn(layer.stack);
    if (own) first ??= own;
    else if (layer.methods.length > 0) return undefined;
  }
  return first;
}

/**
 * Koa middleware over `@product-service/bearer`, closed by default: each request needs the access its route declares
 * (`router.get('/items', access(requireScopes('items/read')), …)`, with `router` in the options), else what the
 * policy says, else a valid token. The principal goes on `ctx.state.principal`; a refusal is answered, its reason on
 * `ctx.state.authRefusal`. The RFC 9728 metadata path is public unless a route or rule names it.
 *
 * Written without `async`: an outcome the authenticator gives at once (a remembered token, say) admits or refuses the
 * request synchronously and `next()` is returned as is, so that such a request costs no extra promise.
 */
export function createBearerAuth(options: BearerAuthOptions): Middleware<AuthState> {
  const gate = createGate(options);
  const { counters, router } = options;
  const answer = options.answer ?? writeRefusal;

  /** `counted`: the first check of a request counts it; a route's second look (see `access`) does not again. */
  const settlement = (counted: boolean): Settlement<[Context, Next], unknown> => ({
    admit(principal, ctx, next) {
      if (principal) {
        ctx.state.principal = principal;
        if (counted && counters) counters.accepted += 1;
      }
      return next();
    },
    refuse(refusal, principal, ctx) {
      if (principal) ctx.state.principal = principal;
      const { reason } = refusal;
      ctx.state.authRefusal = reason;
      if (counters) counters.refused[reason] = (counters.refused[reason] ?? 0) + 1;
      return answer(ctx, refusal);
    },
  });
  const first = settlement(true);
  const again = settlement(false);

  const check: Check = (ctx, next, access) => {
    const checked = ctx as Checked;
    const firstLook = checked[checkKey] === undefined;
    checked[checkKey] = check;
    checked[checkedKey] = access;
    const request = {
      method: ctx.method,
      path: ctx.path,
      // Under koa-mount `ctx.path` is relative to the mount point; a DPoP proof names the whole URI (RFC 9449 §4.3).
      fullPath: ctx.originalUrl === ctx.url ? undefined : ctx.originalUrl.split('?', 1)[0],
      headers: ctx.headers,
      rawHeaders: ctx.req.rawHeaders,
      query: ctx.querystring,
    };
    return settle(gate.check(request, access), firstLook ? first : again, ctx, next);
  };

  return (ctx, next) => check(ctx, next, router ? routeAccess(router, ctx) : undefined);
}

/**
 * Route middleware that declares what a route needs: `router.get('/items', access(requireScopes('items/read')),
 * handler)`, `access(publicAccess)` for an open one. `createBearerAuth({ …, router })` reads it off the route before
 * the route runs, so a public route is open and the token is checked once; should the request have been checked
 * against another access (a router the middleware was not given, say), this checks it again against its own.
 */
export function access(rule: Access): Middleware<AuthState> {
  const middleware: Middleware<AuthState> = (ctx, next) => {
    const checked = ctx as Checked;
    const check = checked[checkKey];
    if (!check) throw new Error('access() needs app.use(createBearerAuth({ …, router })) before the router');
    return checked[checkedKey] === rule ? next() : check(ctx, next, rule);
  };
  return Object.assign(middleware, { [declared]: rule });
}

const policyMethods: readonly string[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] satisfies PolicyMethod[];

/**
 * The routes of `router` that declare an access, as policy rules (one per method; HEAD goes with GET): what
 * `protectedResourceMetadata({ policy: { rules } })` reads for `scopes_supported`, so that the document is built from
 * the routes themselves and no path list is written twice.
 */
export function declaredRules(router: {
  readonly stack: readonly {
    readonly path: unknown;
    readonly methods: readonly string[];
    readonly stack: readonly unknown[];
  }[];
}): PolicyRule[] {
  const rules: PolicyRule[] = [];
  for (const layer of router.stack) {
    const declaredAccess = declaredOn(layer.stack);
    if (!declaredAccess || typeof layer.path !== 'string') continue;
    for (const method of layer.methods) {
      if (policyMethods.includes(method)) {
        rules.push({ method: method as PolicyMethod, path: layer.path, access: declaredAccess });
      }
    }
  }
  return rules;
}
