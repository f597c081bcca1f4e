import type { Middleware, Next, ParameterizedContext } from 'koa';
import { AuthRefusal, refusalResponse, type RefusalReason } from './errors.js';
import { missingGroups, missingScopes, type Access, type RoutePolicy } from './policy.js';
import type { Principal, Verifier } from './verifier.js';

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

export function createAuthCounters(): AuthCounters {
  return { accepted: 0, refused: {} };
}

/** A refusal as an answer: what the service's one error writer needs, with RFC 6750's headers filled in. */
export interface RefusalAnswer {
  readonly status: number;
  readonly code: string;
  readonly description: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly retryAfterSeconds: number | undefined;
}

export interface BearerAuthOptions {
  readonly verifier: Pick<Verifier, 'verify' | 'verifyNow'>;
  readonly policy: RoutePolicy;
  /** The protection space named in every challenge (RFC 6750 §3). */
  readonly realm: string;
  readonly counters?: AuthCounters;
  /**
   * Writes a refusal. A service passes the writer of its own error type, so that every answer is written in one
   * place; alone, the middleware writes the JSON body itself.
   */
  readonly answer?: (ctx: ParameterizedContext<AuthState>, answer: RefusalAnswer) => void;
}

function writeAnswer(ctx: ParameterizedContext<AuthState>, answer: RefusalAnswer): void {
  ctx.status = answer.status;
  for (const [name, value] of Object.entries(answer.headers)) ctx.set(name, value);
  if (answer.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(answer.retryAfterSeconds));
  ctx.body = { error: answer.code, error_description: answer.description };
}

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token, with b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const bearerHeader = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

type Extracted = { readonly token: string } | { readonly refusal: 'missing' | 'malformed' };

function countAuthorizationHeaders(rawHeaders: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    // The length first: no lower-cased copy of every other header name.
    if (name?.length === 13 && name.toLowerCase() === 'authorization') count += 1;
  }
  return count;
}

function extractToken(ctx: ParameterizedContext): Extracted {
  // Node keeps only the first of repeated Authorization headers; two credentials are ambiguous, so refuse them.
  if (countAuthorizationHeaders(ctx.req.rawHeaders) > 1) return { refusal: 'malformed' };
  const header = ctx.get('authorization');
  // RFC 6750 §2.3: tokens in the query string end up in logs and browser history; we accept only the header, and
  // say so instead of silently ignoring a query token. §2: a client must not use more than one method at once.
  const query = ctx.querystring;
  if (query !== '' && new URLSearchParams(query).has('access_token')) return { refusal: 'malformed' };
  if (header === '') return { refusal: 'missing' };
  const found = bearerHeader.exec(header);
  return found?.[1] === undefined ? { refusal: 'malformed' } : { token: found[1] };
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '')}"`;
}

function refuse(
  ctx: ParameterizedContext<AuthState>,
  options: BearerAuthOptions,
  refusal: AuthRefusal,
  scope?: readonly string[],
  groups?: readonly string[],
): void {
  const { realm, counters } = options;
  const response = refusalResponse(refusal.reason);
  const { status, error } = response;
  // Which group is missing comes from the route policy, never from the token, so it may be said.
  const description = groups ? `${response.description}: one of ${groups.join(', ')}` : response.description;
  ctx.state.authRefusal = refusal.reason;
  if (counters) counters.refused[refusal.reason] = (counters.refused[refusal.reason] ?? 0) + 1;
  const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
  if (status !== 503) {
    const params = [`realm=${quote(realm)}`];
    if (error !== undefined) params.push(`error=${quote(error)}`, `error_description=${quote(description)}`);
    if (scope && scope.length > 0) params.push(`scope=${quote(scope.join(' '))}`);
    headers['WWW-Authenticate'] = `Bearer ${params.join(', ')}`;
  }
  (options.answer ?? writeAnswer)(ctx, {
    status,
    // RFC 6750 §3: the answer to a request without credentials carries no error code; the body says the same.
    code: error ?? 'unauthorized',
    description,
    headers,
    // The key set says when its next fetch is due; a refusal that knows nothing better says 1 s.
    retryAfterSeconds: status === 503 ? (refusal.retryAfterSeconds ?? 1) : undefined,
  });
}

/**
 * Koa middleware: finds the route's access rule, reads the bearer token, verifies it, checks scopes and groups, and
 * answers RFC 6750 refusals itself. On success the principal is on `ctx.state.principal`.
 *
 * Written without `async`: a token the verifier can answer at once (remembered, or signed by a key it already
 * selected) is admitted or refused synchronously and `next()` is returned as is, so that such a request costs no
 * extra promise or async frame.
 */
export function createBearerAuth(options: BearerAuthOptions): Middleware<AuthState> {
  const { verifier, policy, counters } = options;

  function admit(ctx: ParameterizedContext<AuthState>, next: Next, access: Access, principal: Principal): unknown {
    ctx.state.principal = principal;
    const missing = missingScopes(access, principal.scopes);
    if (missing.length > 0) return refuse(ctx, options, new AuthRefusal('insufficient_scope'), missing);
    const groups = missingGroups(access, principal);
    if (groups.length > 0) return refuse(ctx, options, new AuthRefusal('group_not_allowed'), undefined, groups);
    if (counters) counters.accepted += 1;
    return next();
  }

  return (ctx, next) => {
    const access = policy.accessFor(ctx.method, ctx.path);
    if (access.kind === 'public') return next();

    const extracted = extractToken(ctx);
    if ('refusal' in extracted) return refuse(ctx, options, new AuthRefusal(extracted.refusal));

    const answer = verifier.verifyNow(extracted.token);
    if (answer instanceof AuthRefusal) return refuse(ctx, options, answer);
    if (answer) return admit(ctx, next, access, answer);
    return verifier.verify(extracted.token).then(
      (principal) => admit(ctx, next, access, principal),
      (error: unknown) => {
        if (error instanceof AuthRefusal) return refuse(ctx, options, error);
        throw error;
      },
    );
  };
}
