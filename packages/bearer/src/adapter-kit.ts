// What every framework adapter does between its framework and the core, written once, so that an adapter is option
// mapping plus delegation (as fastify-auth0-verify's index.js is): pick or build the authenticator, find the access a
// request needs, read a request off a URL, and settle an outcome that may or may not be a promise.
// Published at `@product-service/bearer/adapter`, for adapters (ours and anyone's), not for applications.
//
// From the public surface only, as any adapter would: the CommonJS build then requires index.cjs for it instead of
// bundling a second copy of the core (scripts/build-package.ts).
import {
  createAuthenticator,
  createRoutePolicy,
  protectedResourceWellKnown,
  publicAccess,
  type Access,
  type Authenticator,
  type AuthenticatorOptions,
  type AuthRequest,
  type Outcome,
  type Principal,
  type Refusal,
  type RoutePolicy,
} from './index.js';

/** An authenticator of your own (to call `warmUp()` and `ready()`), and the policy for requests no route names. */
export interface WithAuthenticator {
  readonly authenticator: Pick<Authenticator, 'authenticate'>;
  /** Access for requests whose route declares none; else the authenticator's own policy. Closed by default either way. */
  readonly policy?: RoutePolicy;
}

/** What an adapter takes: an authenticator of your own, or the options to build one (its `policy` included). */
export type AdapterOptions = WithAuthenticator | AuthenticatorOptions;

export interface Gate {
  /**
   * The outcome for `request`. The access is the route's own `access` when it declares one; else the policy's; else
   * the authenticator's own, where a request no rule names needs a valid token. The RFC 9728 metadata
   * (`GET /.well-known/oauth-protected-resource`, and under it) is public unless a route or a policy rule names it.
   * Not a promise when the core needed no I/O.
   */
  check(request: AuthRequest, access?: Access): Outcome | Promise<Outcome>;
}

// RFC 9728 §3: a client reads the metadata before it has any token, to learn which issuer to get one from. Behind
// the gate it would answer 401 with a challenge whose `resource_metadata` (§5.1) points back at that same 401.
const metadataRule = {
  method: 'GET',
  path: `${protectedResourceWellKnown}{/*rest}`,
  access: publicAccess,
} as const;
const metadataOnly = createRoutePolicy([metadataRule]);

/** The authenticator (yours, or one built from the options) and the access each request needs. */
export function createGate(options: AdapterOptions): Gate {
  const authenticator = 'authenticator' in options ? options.authenticator : createAuthenticator(options);
  const { policy } = options;
  // The metadata rule goes after the policy's own, so that a rule of yours naming the path wins (the first match
  // does); the same matcher as the policy's, so that both agree on case and trailing slashes.
  const metadata = policy ? createRoutePolicy([...policy.rules, metadataRule]) : metadataOnly;
  return {
    check(request, access) {
      if (access) return authenticator.authenticate(request, access);
      const { method, path } = request;
      if (path.startsWith(protectedResourceWellKnown)) {
        const found = metadata.accessFor(method, path);
        // Without a policy, only the metadata rule is ours to apply: any other access is the authenticator's to say.
        if (policy || found === publicAccess) return authenticator.authenticate(request, found);
      }
      return authenticator.authenticate(request, policy?.accessFor(method, path));
    },
  };
}

/** What an adapter reads off Node's request: `IncomingMessage` is one. */
export interface NodeRequestLike {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: AuthRequest['headers'];
  readonly rawHeaders: readonly string[];
}

/**
 * What the core reads of a request: the method, the path and the query string split off its URL (`/a?b` → `/a`
 * and `b`), and the headers as they are, not copied.
 */
export function toAuthRequest(req: NodeRequestLike): AuthRequest {
  const url = req.url ?? '/';
  const mark = url.indexOf('?');
  return {
    method: req.method ?? 'GET',
    path: mark === -1 ? url : url.slice(0, mark),
    query: mark === -1 ? '' : url.slice(mark + 1),
    headers: req.headers,
    rawHeaders: req.rawHeaders,
  };
}

/** How an adapter goes on from an outcome; `context` is whatever it needs (Koa's `ctx` and `next`, say). */
export interface Settlement<Context extends readonly unknown[], Result> {
  /** Admitted: `principal` is `undefined` on a public route, or for an anonymous caller on an optional one. */
  admit(principal: Principal | undefined, ...context: Context): Result;
  /**
   * Refused. A valid token refused for a missing scope or group still names its principal, for the request log.
   */
  refuse(refusal: Refusal, principal: Principal | undefined, ...context: Context): Result;
}

/**
 * Admits or refuses by `settlement`: at once when the core answered at once (a remembered token, a refusal before any
 * key is needed), so that such a request costs no promise; when it settles otherwise.
 */
export function settle<Context extends readonly unknown[], Result>(
  outcome: Outcome | Promise<Outcome>,
  settlement: Settlement<Context, Result>,
  ...context: Context
): Result | Promise<Result> {
  return outcome instanceof Promise
    ? outcome.then((settled) => settleNow(settled, settlement, context))
    : settleNow(outcome, settlement, context);
}

function settleNow<Context extends readonly unknown[], Result>(
  outcome: Outcome,
  settlement: Settlement<Context, Result>,
  context: Context,
): Result {
  return 'refusal' in outcome
    ? settlement.refuse(outcome.refusal, outcome.principal, ...context)
    : settlement.admit(outcome.principal, ...context);
}
