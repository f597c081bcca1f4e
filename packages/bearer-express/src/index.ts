import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  claimCheck as claimCheckAccess,
  claimEquals as claimEqualsAccess,
  claimIncludes as claimIncludesAccess,
  requireGroups as groupsAccess,
  requireScopes as scopesAccess,
  type Access,
  type Authenticator,
  type AuthenticatorOptions,
  type AuthRequest,
  type ClaimRule,
  type GroupAlternatives,
  type JsonPrimitive,
  type Outcome,
  type Refusal,
  type RefusalReason,
  type RoutePolicy,
} from '@product-service/bearer';
import { createGate } from '@product-service/bearer/adapter';
import { AuthResult } from './auth.js';
import { refusalError } from './errors.js';

export { authOf } from './auth.js';
export type { BearerAuth, BearerRequest, JwtHeader } from './auth.js';
export {
  InsufficientScopeError,
  InsufficientUserAuthenticationError,
  InvalidRequestError,
  InvalidTokenError,
  TemporarilyUnavailableError,
  UnauthorizedError,
} from './errors.js';

export interface ExpressBearerOptionsWithAuthenticator {
  readonly authenticator: Pick<Authenticator, 'authenticate'>;
  /** Which access each request needs; the authenticator's own policy when absent. Closed by default either way. */
  readonly policy?: RoutePolicy;
  /** Writes a refusal (the service's own error writer); by default its status, headers and JSON body as they are. */
  readonly answer?: (req: Request, res: Response, refusal: Refusal) => void;
  /**
   * `'next'`: hand each refusal to `next(err)` as an `UnauthorizedError` (`InvalidTokenError`,
   * `InsufficientScopeError`, …) for the app's error middleware, as express-oauth2-jwt-bearer does; the app's error
   * handler then writes the answer (`writeRefusal(req, res, err.refusal)` writes it as the adapter would). By default
   * the adapter writes it itself: Express's own final handler would answer an HTML page (a stack trace outside
   * production) instead of the JSON body.
   */
  readonly errors?: 'answer' | 'next';
}

/** An authenticator of your own (to warm it up, ask `ready()`), or the options to build one. */
export type ExpressBearerOptions =
  | ExpressBearerOptionsWithAuthenticator
  | (AuthenticatorOptions & Pick<ExpressBearerOptionsWithAuthenticator, 'answer' | 'errors'>);

/** Writes a refusal as it is: its status, its headers (`WWW-Authenticate`, `Cache-Control`, `Retry-After`), JSON. */
export function writeRefusal(_req: Request, res: Response, refusal: Refusal): void {
  res.status(refusal.status).set(refusal.headers).json(refusal.body);
}

type Gate = (req: Request, res: Response, next: NextFunction, access: Access | undefined) => unknown;

/**
 * Where the app-level middleware leaves its gate (authenticator, policy, writer) for the route middleware after it:
 * a symbol-keyed property of the request, not a WeakMap entry that every request would pay for.
 */
const gateKey = Symbol('@product-service/bearer-express gate');
type GatedRequest = Request & { [gateKey]?: Gate };

function toAuthRequest(req: Request): AuthRequest {
  const mark = req.url.indexOf('?');
  return {
    method: req.method,
    path: req.path,
    // Under a mount point `req.path` is relative to it; a DPoP proof names the whole URI (RFC 9449 §4.3).
    fullPath: req.baseUrl ? req.originalUrl.split('?', 1)[0] : undefined,
    query: mark === -1 ? '' : req.url.slice(mark + 1),
    headers: req.headers,
    rawHeaders: req.rawHeaders,
  };
}

/**
 * App-level bearer authentication, closed by default: `app.use(bearer({ authenticator, policy }))`. Every request
 * needs what the policy says (a valid token where it says nothing); `req.auth` gets the token's `payload`, `header`,
 * `token` and `principal` (`BearerAuth`). Route middleware (`requireScopes`, `requireGroups`, the claim checks,
 * `requireAccess`) then asks more of a route.
 *
 * Written without `async`: an outcome the authenticator gives at once calls `next()` at once, without a promise.
 */
export function bearer(options: ExpressBearerOptions): RequestHandler {
  // The adapter kit's gate: your authenticator or one built from the options, the policy, and the RFC 9728 metadata
  // public unless a rule names it.
  const kit = createGate(options);
  if (options.errors === 'next' && options.answer) {
    throw new TypeError(
      "bearer(): give answer or errors: 'next', not both: with 'next' the app's error handler answers",
    );
  }
  const passOn = options.errors === 'next';
  const answer = options.answer ?? writeRefusal;

  function settle(req: Request, res: Response, next: NextFunction, outcome: Outcome): void {
    // Written through a type of our own: the app's global type of `req.auth` may be another package's (see auth.ts).
    const slots = req as unknown as { auth?: AuthResult; authRefusal?: RefusalReason };
    if ('refusal' in outcome) {
      slots.authRefusal = outcome.refusal.reason;
      // A valid token refused for what it lacks names its principal on the error, for the log; `req.auth` is only
      // ever an admitted token, as with express-oauth2-jwt-bearer.
      if (passOn) next(refusalError(outcome.refusal, outcome.principal));
      else answer(req, res, outcome.refusal);
      return;
    }
    if (outcome.principal && outcome.token !== undefined) slots.auth = new AuthResult(outcome.principal, outcome.token);
    next();
  }

  const gate: Gate = (req, res, next, access) => {
    const outcome = kit.check(toAuthRequest(req), access);
    if (outcome instanceof Promise) return outcome.then((o) => settle(req, res, next, o), next);
    settle(req, res, next, outcome);
    return undefined;
  };

  return (req, res, next) => {
    (req as GatedRequest)[gateKey] = gate;
    return gate(req, res, next, undefined);
  };
}

/**
 * Route middleware: the route needs `access`, checked by the core (a 403 `insufficient_scope` naming what is
 * missing). Needs `bearer()` before it. The core checks the token again against the route's access: with its
 * verified-token cache on (the default) that is one lookup, not a second signature check.
 */
export function requireAccess(access: Access): RequestHandler {
  return (req, res, next) => {
    const gate = (req as GatedRequest)[gateKey];
    if (!gate) {
      next(new Error('requireAccess(), requireScopes() and requireGroups() need app.use(bearer(…)) before them'));
      return undefined;
    }
    return gate(req, res, next, access);
  };
}

/** Route middleware: a valid token granting every one of `scopes` (RFC 6750 §3.1: 403 with `scope=` otherwise). */
export function requireScopes(...scopes: string[]): RequestHandler {
  return requireAccess(scopesAccess(...scopes));
}

/**
 * Route middleware: the core's `requireGroups(groups, alternatives?)`, with the same arguments and meaning. A valid
 * token whose principal is in one of `groups`; nobody else, machine clients included, unless `alternatives` names
 * another way in (`{ orScopes }`, `{ orMachinesWithScopes }`). 403 `insufficient_scope` otherwise, naming them.
 */
export function requireGroups(groups: string | readonly string[], alternatives?: GroupAlternatives): RequestHandler {
  return requireAccess(groupsAccess(groups, alternatives));
}

/**
 * Route middleware: the core's `claimEquals`, as express-oauth2-jwt-bearer's: the token's claim `claim` is `value`
 * (strictly), or 401 `invalid_token`.
 */
export function claimEquals(claim: string, value: JsonPrimitive): RequestHandler {
  return requireAccess(claimEqualsAccess(claim, value));
}

/**
 * Route middleware: the core's `claimIncludes`, as express-oauth2-jwt-bearer's: the token's claim `claim` (an array,
 * or a space-separated string) holds every one of `values`, or 401 `invalid_token`.
 */
export function claimIncludes(claim: string, ...values: JsonPrimitive[]): RequestHandler {
  return requireAccess(claimIncludesAccess(claim, ...values));
}

/**
 * Route middleware: the core's `claimCheck`, as express-oauth2-jwt-bearer's: `check(payload)` returns `true`, or 401
 * `invalid_token` with `description`. A check that throws fails.
 */
export function claimCheck(check: ClaimRule['test'], description?: string): RequestHandler {
  return requireAccess(claimCheckAccess(check, description));
}
