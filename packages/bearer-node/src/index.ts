import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Access, Outcome, Refusal } from '@product-service/bearer';
import { createGate, toAuthRequest, type AdapterOptions } from '@product-service/bearer/adapter';

/** What the core reads of a request: no copy of the headers, the path and query string split off `req.url`. */
export { toAuthRequest };

/** An authenticator of your own (to warm it up, ask `ready()`) with an optional `policy`, or the options to build one. */
export type NodeBearerOptions = AdapterOptions;

export interface NodeBearer {
  /**
   * The outcome for `req`: `access` when given (the route's own rule), else the policy's for its method and path;
   * a request no rule names needs a valid token, the RFC 9728 metadata path excepted (public unless a rule names
   * it). Not a promise when no I/O was needed.
   */
  authenticate(req: IncomingMessage, access?: Access): Outcome | Promise<Outcome>;
}

/** Bearer authentication for a plain `node:http` server. */
export function createNodeBearer(options: NodeBearerOptions): NodeBearer {
  const gate = createGate(options);
  return { authenticate: (req, access) => gate.check(toAuthRequest(req), access) };
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
