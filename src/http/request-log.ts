import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { AuthState } from '@product-service/bearer-koa';

const requestIdPattern = /^[\w.:-]{1,128}$/;

/**
 * One JSON line per request: id, method, path, status, duration, and why a refused request was refused or which
 * client an accepted one came from. Headers are never logged, so a token or a secret cannot end up in the logs.
 */
export function createRequestLog(logger: Logger): Middleware<AuthState> {
  return async (ctx, next) => {
    const started = performance.now();
    const offered = ctx.get('x-request-id');
    const requestId = requestIdPattern.test(offered) ? offered : randomUUID();
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      const { principal, authRefusal } = ctx.state;
      logger.info(
        {
          requestId,
          method: ctx.method,
          path: ctx.path,
          // The route pattern (/products/:id), which groups requests better than the path.
          route: (ctx as { _matchedRoute?: unknown })._matchedRoute,
          status: ctx.status,
          durationMs: Math.round((performance.now() - started) * 10) / 10,
          ...(authRefusal ? { refusal: authRefusal } : {}),
          ...(principal?.clientId ? { clientId: principal.clientId } : {}),
        },
        'request',
      );
    }
  };
}
