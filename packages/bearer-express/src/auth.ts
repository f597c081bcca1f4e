import type { Request } from 'express';
import type { Principal, RefusalReason } from '@product-service/bearer';

/** A verified token's protected header (RFC 7515 §4), as express-oauth2-jwt-bearer's `JWTHeader` reads it. */
export interface JwtHeader {
  readonly alg?: string;
  readonly kid?: string;
  readonly typ?: string;
  readonly [member: string]: unknown;
}

/**
 * What `bearer()` leaves on `req.auth` for an admitted token: `payload`, `header` and `token`, the shape
 * express-oauth2-jwt-bearer's `AuthResult` has, so that code written for it reads it unchanged; and `principal`, the
 * claims mapped by the issuer's profile (subject, client id, scopes, groups, username).
 */
export interface BearerAuth {
  /** The token's claims, verified. */
  readonly payload: Principal['claims'];
  /** The token's protected header. */
  readonly header: JwtHeader;
  /** The token as it was sent. */
  readonly token: string;
  readonly principal: Principal;
}

/**
 * An Express request as `bearer()` leaves it, for a handler's parameter: `(req: BearerRequest, res) => …`. This
 * package declares nothing global: express-oauth2-jwt-bearer declares `Express.Request.auth` with its own type, and
 * a second declaration of another type fails to compile (TS2717), which stops an app that runs both during a move.
 */
export type BearerRequest = Request & {
  auth?: BearerAuth;
  /** Why the request was refused, for the request log. */
  authRefusal?: RefusalReason;
};

/**
 * `req.auth` as a class: `payload` is the principal's claims and `header` is decoded on first read, so an admitted
 * request pays for one small object and nothing it does not read.
 */
export class AuthResult implements BearerAuth {
  readonly payload: Principal['claims'];
  #header: JwtHeader | undefined;
  constructor(
    readonly principal: Principal,
    readonly token: string,
  ) {
    this.payload = principal.claims;
  }

  get header(): JwtHeader {
    // The token is verified: its first part is base64url JSON, an object with no member named twice.
    this.#header ??= JSON.parse(
      Buffer.from(this.token.slice(0, this.token.indexOf('.')), 'base64url').toString(),
    ) as JwtHeader;
    return this.#header;
  }
}

/**
 * What `bearer()` left on `req.auth`, whatever type the app gives `req.auth`: for an app that also runs
 * express-oauth2-jwt-bearer, whose global type says `req.auth` is its own. `undefined` when the request was not
 * admitted with a token by this package (a public route, an anonymous caller, or another middleware's `req.auth`).
 */
export function authOf(req: Request): BearerAuth | undefined {
  const auth: unknown = (req as { auth?: unknown }).auth;
  return auth instanceof AuthResult ? auth : undefined;
}
