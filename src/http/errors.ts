import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { failureFields } from './log-fields.js';

/** A client error a handler decides on: its status, a stable code, a message, and optionally errors by JSON Pointer. */
export class HttpProblem extends Error {
  /** Koa's convention for errors whose message may be shown to the client. */
  readonly expose = true;
  /** Sent as `Retry-After`: when a client may try again (a 409 from a product that is changing too fast, say). */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors?: Record<string, string[]>,
    options: { retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.name = 'HttpProblem';
  }
}

/**
 * Turns whatever a handler throws into a JSON answer. Client errors raised with `ctx.throw(4xx)` keep their status
 * and message; an exposed 503 (a store that cannot answer now) is a 503 with `Retry-After`; anything else is a 500
 * whose details go to the log only, never to the client.
 */
export function createErrorHandler(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = { error: 'not_found', error_description: `no resource at ${ctx.method} ${ctx.path}` };
      } else if (ctx.status === 405 && ctx.body === undefined) {
        ctx.body = { error: 'method_not_allowed', error_description: `${ctx.method} is not allowed on ${ctx.path}` };
      }
    } catch (error) {
      const status = httpStatusOf(error);
      if (status >= 400 && status < 500) {
        ctx.status = status;
        if (error instanceof HttpProblem && error.retryAfterSeconds !== undefined) {
          ctx.set('Retry-After', String(error.retryAfterSeconds));
        }
        ctx.body =
          error instanceof HttpProblem
            ? { error: error.code, error_description: error.message, ...(error.errors ? { errors: error.errors } : {}) }
            : { error: clientErrorCode(error, status), error_description: exposedMessage(error) };
        return;
      }
      if (status === 503) {
        // A dependency that cannot answer now (RFC 9110 §15.6.4): the client may retry, and is told when.
        logger.warn({ failure: failureFields(error), method: ctx.method, path: ctx.path }, 'dependency unavailable');
        ctx.status = 503;
        ctx.set('Retry-After', String(retryAfterOf(error)));
        ctx.body = { error: 'temporarily_unavailable', error_description: exposedMessage(error) };
        return;
      }
      logger.error({ err: error, method: ctx.method, path: ctx.path }, 'request failed');
      ctx.status = 500;
      ctx.body = { error: 'internal_error', error_description: 'the request could not be completed' };
    }
  };
}

function httpStatusOf(error: unknown): number {
  if (typeof error === 'object' && error !== null) {
    const { status, expose } = error as { status?: unknown; expose?: unknown };
    if (typeof status === 'number' && expose === true) return status;
  }
  return 500;
}

function retryAfterOf(error: unknown): number {
  const { retryAfterSeconds } = error as { retryAfterSeconds?: unknown };
  return typeof retryAfterSeconds === 'number' ? retryAfterSeconds : 1;
}

function exposedMessage(error: unknown): string {
  return error instanceof Error ? error.message : 'bad request';
}

/** The stable `error` code of each client error status, where the answer names none of its own. */
export const errorCodes: Readonly<Record<number, string>> = {
  400: 'bad_request',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  410: 'gone',
  412: 'precondition_failed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

/** An exposed error's own stable `code` (a store that refused a value, say), else one for its status. */
function clientErrorCode(error: unknown, status: number): string {
  const { code } = error as { code?: unknown };
  return typeof code === 'string' && /^[a-z_]+$/.test(code) ? code : (errorCodes[status] ?? 'bad_request');
}
