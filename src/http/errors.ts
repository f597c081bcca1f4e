import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import { failureFields } from '../log-fields.js';

/** When a client may try again after a `503` or a busy `409`, unless the cause knows better. */
export const defaultRetryAfterSeconds = 1;

/**
 * What an answer is made of. An HttpProblem is one; so is the bearer middleware's refusal, which is written without
 * building an Error (a refusal's stack trace was 5 % of the CPU under a flood of forged tokens, which is why the verifier's refusals are values).
 */
export interface ProblemAnswer {
  readonly status: number;
  readonly code: string;
  /** Shown to the client. */
  readonly description: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly retryAfterSeconds?: number | undefined;
  readonly errors?: Readonly<Record<string, readonly string[]>> | undefined;
}

/**
 * The service's one error type, as oidc-provider's: an answer's status, its stable `code`, a description that may
 * be shown to the client, its headers and `Retry-After`, and optionally errors by JSON Pointer. Handlers, the
 * products service and the store adapter throw it; `writeProblem` is the one place that turns it, or any other
 * answer (app.ts hands it to the bearer middleware for refusals), into a response.
 */
export class HttpProblem extends Error {
  /** Koa's convention for errors whose message may be shown to the client. */
  readonly expose = true;
  readonly headers: Readonly<Record<string, string>>;
  /** Sent as `Retry-After`: when a client may try again. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly status: number,
    readonly code: string,
    description: string,
    readonly errors?: Readonly<Record<string, readonly string[]>>,
    options: { retryAfterSeconds?: number; headers?: Readonly<Record<string, string>>; cause?: unknown } = {},
  ) {
    super(description, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'HttpProblem';
    this.headers = options.headers ?? {};
    this.retryAfterSeconds = options.retryAfterSeconds ?? (status === 503 ? defaultRetryAfterSeconds : undefined);
  }

  get description(): string {
    return this.message;
  }
}

/** The house shape of every error answer: `{error, error_description}`, and errors by JSON Pointer if any. */
export function problemBody(problem: ProblemAnswer): Record<string, unknown> {
  return {
    error: problem.code,
    error_description: problem.description,
    ...(problem.errors ? { errors: problem.errors } : {}),
  };
}

/** The one place an error becomes an answer: status, headers, `Retry-After` and `{error, error_description}`. */
export function writeProblem(ctx: Context, problem: ProblemAnswer): void {
  ctx.status = problem.status;
  if (problem.headers) for (const [name, value] of Object.entries(problem.headers)) ctx.set(name, value);
  if (problem.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(problem.retryAfterSeconds));
  ctx.body = problemBody(problem);
}

/** The stable `error` code of each client error status, where the answer names none of its own. */
export const errorCodes: Readonly<Record<number, string>> = {
  400: 'bad_request',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  409: 'conflict',
  410: 'gone',
  412: 'precondition_failed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  417: 'expectation_failed',
  431: 'request_header_fields_too_large',
};

/**
 * What a thrown error answers: an HttpProblem as it is; a client error raised the Koa way (`ctx.throw(4xx)`, a body
 * parser's 400) with its status and message; anything else is undefined, a 500 whose details go to the log only.
 */
function problemOf(error: unknown): HttpProblem | undefined {
  if (error instanceof HttpProblem) return error;
  if (typeof error !== 'object' || error === null) return undefined;
  const { status, expose } = error as { status?: unknown; expose?: unknown };
  if (typeof status !== 'number' || expose !== true || status < 400 || status >= 500) return undefined;
  const message = error instanceof Error ? error.message : 'bad request';
  return new HttpProblem(status, errorCodes[status] ?? 'bad_request', message);
}

/** Turns whatever a handler throws into an answer, and names what the router found nothing for. */
export function createErrorHandler(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.body === undefined && (ctx.status === 404 || ctx.status === 405)) {
        const what =
          ctx.status === 404
            ? `no resource at ${ctx.method} ${ctx.path}`
            : `${ctx.method} is not allowed on ${ctx.path}`;
        writeProblem(ctx, { status: ctx.status, code: errorCodes[ctx.status] ?? 'not_found', description: what });
      }
    } catch (error) {
      const problem = problemOf(error);
      if (problem) {
        // A dependency that cannot answer now (RFC 9110 §15.6.4): the client may retry, and is told when.
        if (problem.status >= 500) {
          logger.warn({ failure: failureFields(error), method: ctx.method, path: ctx.path }, 'dependency unavailable');
        }
        writeProblem(ctx, problem);
        return;
      }
      logger.error({ err: error, method: ctx.method, path: ctx.path }, 'request failed');
      writeProblem(ctx, { status: 500, code: 'internal_error', description: 'the request could not be completed' });
    }
  };
}
