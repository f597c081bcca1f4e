import type { Middleware, Next, ParameterizedContext } from 'koa';
import type {
  Access,
  Authenticator,
  Outcome,
  Principal,
  Refusal,
  RefusalReason,
  RoutePolicy,
} from '@product-service/bearer';

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

export interface BearerAuthOptions {
  readonly authenticator: Pick<Authenticator, 'authenticate'>;
  /** Which access each request needs (@koa/router's path syntax); the authenticator's own policy when absent. */
  readonly policy?: RoutePolicy;
  readonly counters?: AuthCounters;
  /**
   * Writes a refusal. A service passes the writer of its own error type, so that every answer is written in one
   * place; alone, the middleware writes the status, headers and JSON body itself.
   */
  readonly answer?: (ctx: ParameterizedContext<AuthState>, refusal: Refusal) => void;
}

function writeRefusal(ctx: ParameterizedContext<AuthState>, refusal: Refusal): void {
  ctx.status = refusal.status;
  ctx.set(refusal.headers);
  ctx.body = refusal.body;
}

/**
 * Koa middleware over `@product-service/bearer`: the route's access from the path policy, the request's outcome from
 * the authenticator, the principal on `ctx.state.principal`, a refusal answered (and its reason on
 * `ctx.state.authRefusal`).
 *
 * Written without `async`: an outcome the authenticator gives at once (a remembered token, say) admits or refuses the
 * request synchronously and `next()` is returned as is, so that such a request costs no extra promise.
 */
export function createBearerAuth(options: BearerAuthOptions): Middleware<AuthState> {
  const { authenticator, policy, counters } = options;
  const answer = options.answer ?? writeRefusal;

  function settle(ctx: ParameterizedContext<AuthState>, next: Next, outcome: Outcome): unknown {
    // A valid token refused for a missing scope or group still names its principal, for the request log.
    if (outcome.principal) ctx.state.principal = outcome.principal;
    if ('refusal' in outcome) {
      const { reason } = outcome.refusal;
      ctx.state.authRefusal = reason;
      if (counters) counters.refused[reason] = (counters.refused[reason] ?? 0) + 1;
      return answer(ctx, outcome.refusal);
    }
    if (counters && outcome.principal) counters.accepted += 1;
    return next();
  }

  return (ctx, next) => {
    const access: Access | undefined = policy?.accessFor(ctx.method, ctx.path);
    if (access?.kind === 'public') return next();
    const outcome = authenticator.authenticate(
      {
        method: ctx.method,
        path: ctx.path,
        // Under koa-mount `ctx.path` is relative to the mount point; a DPoP proof names the whole URI (RFC 9449 §4.3).
        fullPath: ctx.originalUrl === ctx.url ? undefined : ctx.originalUrl.split('?', 1)[0],
        headers: ctx.headers,
        rawHeaders: ctx.req.rawHeaders,
        query: ctx.querystring,
      },
      access,
    );
    return outcome instanceof Promise ? outcome.then((o) => settle(ctx, next, o)) : settle(ctx, next, outcome);
  };
}
