import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createAuthenticator,
  type Access,
  type AuthenticatorOptions,
  type Authenticator,
  type AuthRequest,
  type Outcome,
  type Refusal,
  type RoutePolicy,
} from '@product-service/bearer';

/** An authenticator of your own (to warm it up, ask `ready()`), or the options to build one. */
export type NodeBearerOptions =
  { readonly authenticator: Pick<Authenticator, 'authenticate'>; readonly policy?: RoutePolicy } | AuthenticatorOptions;

export interface NodeBearer {
  /**
   * The outcome for `req`: `access` when given (the route's own rule), else the policy's for its method and path;
   * a request no rule names needs a valid token. Not a promise when no I/O was needed.
   */
  authenticate(req: IncomingMessage, access?: Access): Outcome | Promise<Outcome>;
}

/** What the core reads of a request: no copy of the headers, the path and query string split off `req.url`. */
export function toAuthRequest(req: IncomingMessage): AuthRequest {
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

/** Bearer authentication for a plain `node:http` server. */
export function createNodeBearer(options: NodeBearerOptions): NodeBearer {
  const authenticator = 'authenticator' in options ? options.authenticator : createAuthenticator(options);
  const policy = 'authenticator' in options ? options.policy : undefined;
  return {
    authenticate(req, access) {
      const request = toAuthRequest(req);
      return authenticator.authenticate(request, access ?? policy?.accessFor(request.method, request.path));
    },
  };
}

/** Writes a refusal as it is: its status, its headers (`WWW-Authenticate`, `Cache-Control`, `Retry-After`), JSON. */
export function writeRefusal(res: ServerResponse, refusal: Refusal): void {
  const body = JSON.stringify(refusal.body);
  res.writeHead(refusal.status, {
    ...refusal.headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
