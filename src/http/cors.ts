import cors from '@koa/cors';
import type { Middleware } from 'koa';
import compose from 'koa-compose';

/**
 * CORS, on purpose: only the configured origins get `Access-Control-Allow-Origin`, `Authorization` may be sent, and
 * credentials mode (cookies) is never allowed, since this API authenticates with bearer (or DPoP) tokens only. Every preflight
 * is answered here, before authentication: browsers never attach credentials to a preflight, so it could only ever
 * be a 401 further down.
 */
export function createCors(origins: readonly string[]): Middleware {
  const allowed = new Set(origins);
  return compose([
    cors({
      origin: (ctx) => (allowed.has(ctx.get('origin')) ? ctx.get('origin') : ''),
      credentials: false,
      allowMethods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
      // `DPoP`: a browser client proves its key with each request (RFC 9449 §4.1).
      allowHeaders: ['Authorization', 'DPoP', 'Content-Type', 'If-Match', 'If-None-Match', 'X-Request-Id'],
      exposeHeaders: ['ETag', 'Location', 'Link', 'Retry-After', 'WWW-Authenticate', 'X-Request-Id'],
      maxAge: 600,
    }),
    async (ctx, next) => {
      // A preflight from an origin not on the list: answered, without any Access-Control-Allow-* header.
      if (ctx.method === 'OPTIONS' && ctx.get('origin') && ctx.get('access-control-request-method')) {
        ctx.status = 204;
        return;
      }
      await next();
    },
  ]);
}
