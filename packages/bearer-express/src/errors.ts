import type { Principal, Refusal, RefusalReason } from '@product-service/bearer';

/**
 * A refusal as an Express error, for `next(err)` (the `errors: 'next'` option): the names, `status`, `statusCode`,
 * `headers` and `code` of express-oauth2-jwt-bearer's errors, so that an error handler written for them reads these
 * too, and `expose` as http-errors has it (the message is the client's `error_description`, safe to show). Every
 * refusal is an `UnauthorizedError`, the 503 included, so that one `instanceof` finds them all, as with Auth0's.
 */
export class UnauthorizedError extends Error {
  override name = 'UnauthorizedError';
  /** The HTTP status: 400, 401, 403 or 503. */
  readonly status: Refusal['status'];
  readonly statusCode: Refusal['status'];
  /** `WWW-Authenticate` (not on 503), `Cache-Control: no-store`, and `Retry-After` on 503: write them all. */
  readonly headers: Refusal['headers'];
  /** The RFC 6750 §3.1 error code, as the body's `error` has it (`unauthorized` when no credentials were sent). */
  readonly code: string;
  /** Why, from the core's closed set, for logs and counters. */
  readonly reason: RefusalReason;
  /** The answer as the adapter would write it: `writeRefusal(req, res, err.refusal)`. */
  readonly refusal: Refusal;
  /** The principal of a valid token refused for what it lacks (a scope, a group, a claim), for the log. */
  readonly principal: Principal | undefined;
  readonly expose = true;

  constructor(refusal: Refusal, principal?: Principal) {
    super(refusal.body.error_description);
    this.status = this.statusCode = refusal.status;
    this.headers = refusal.headers;
    this.code = refusal.body.error;
    this.reason = refusal.reason;
    this.refusal = refusal;
    this.principal = principal;
  }
}

/** 400 `invalid_request`: malformed credentials, two of them, or a token in the query string (RFC 6750 §3.1). */
export class InvalidRequestError extends UnauthorizedError {
  override name = 'InvalidRequestError';
}

/** 401 `invalid_token`: expired, forged, for another audience, or failing the route's claim checks (RFC 6750 §3.1). */
export class InvalidTokenError extends UnauthorizedError {
  override name = 'InvalidTokenError';
}

/** 403 `insufficient_scope`: a valid token without a scope or group the route needs (RFC 6750 §3.1). */
export class InsufficientScopeError extends UnauthorizedError {
  override name = 'InsufficientScopeError';
}

/** 401 `insufficient_user_authentication`: the person's sign-in is too old or too weak for the route (RFC 9470 §3). */
export class InsufficientUserAuthenticationError extends UnauthorizedError {
  override name = 'InsufficientUserAuthenticationError';
}

/**
 * 503 `temporarily_unavailable` with `Retry-After`: the token could not be checked because the issuer's keys cannot be
 * had. Not the client's fault; Auth0 answers 401 here, and the client would drop a good token.
 */
export class TemporarilyUnavailableError extends UnauthorizedError {
  override name = 'TemporarilyUnavailableError';
}

/** The error class for a refusal: by its code, then by its status for a code this version does not know. */
export function refusalError(refusal: Refusal, principal?: Principal): UnauthorizedError {
  switch (refusal.body.error) {
    case 'invalid_request':
      return new InvalidRequestError(refusal, principal);
    case 'invalid_token':
      return new InvalidTokenError(refusal, principal);
    case 'insufficient_scope':
      return new InsufficientScopeError(refusal, principal);
    case 'insufficient_user_authentication':
      return new InsufficientUserAuthenticationError(refusal, principal);
    case 'temporarily_unavailable':
      return new TemporarilyUnavailableError(refusal, principal);
  }
  switch (refusal.status) {
    case 400:
      return new InvalidRequestError(refusal, principal);
    case 403:
      return new InsufficientScopeError(refusal, principal);
    case 503:
      return new TemporarilyUnavailableError(refusal, principal);
    default:
      return new UnauthorizedError(refusal, principal);
  }
}
