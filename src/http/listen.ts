import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { errorCodes, problemBody } from './errors.js';

/** How long an idle keep-alive connection may stay open once a drain has begun. */
const idleGraceMs = 500;

/** Node's defaults (60 s for headers, 300 s for a request, 5 s keep-alive) are chosen here on purpose instead. */
export interface HttpTimeouts {
  /** Longest wait for a request's headers, counted from its first byte: a slow-headers client is cut off (408). */
  readonly headersTimeoutMs: number;
  /** Longest a whole request may take to arrive, body included (408 and the connection closed). */
  readonly requestTimeoutMs: number;
  /**
   * How long an idle keep-alive connection stays open. Above the load balancer's idle timeout, so that it is always
   * the balancer that closes an idle connection, never the service while the balancer sends on it (the cause of
   * sporadic 502s behind an ALB).
   */
  readonly keepAliveTimeoutMs: number;
}

export interface HttpListener {
  readonly port: number;
  /**
   * Graceful stop: no new connections, every answer from now on sent with `Connection: close`, keep-alive
   * connections closed once idle for a moment. Resolves once every connection is gone, or at the deadline, when the
   * rest are cut; `cut` says how many.
   */
  drain(deadlineMs: number): Promise<{ readonly cut: number }>;
}

/** The port could not be listened on: `code` is Node's (`EADDRINUSE`, `EACCES`). */
export class ListenError extends Error {
  constructor(
    readonly port: number,
    readonly code: string,
    options: { cause: unknown },
  ) {
    super(`could not listen on port ${port} (${code})`, options);
    this.name = 'ListenError';
  }
}

/**
 * What Node's parser refuses before any request reaches the app, by its error code; anything else it cannot parse is
 * a 400. Node would answer these itself, with an empty body; here they get the house shape.
 */
const protocolProblems: Readonly<Record<string, { status: number; description: string }>> = {
  // Node's limit is on the whole head, 16 KiB by default (--max-http-header-size); RFC 6585 §5.
  HPE_HEADER_OVERFLOW: { status: 431, description: 'the request headers are larger than this server takes' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, description: 'the chunk extensions are larger than this server takes' },
  // The headers, or the whole request, took longer than HTTP_HEADERS_TIMEOUT_MS or HTTP_REQUEST_TIMEOUT_MS.
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, description: 'the request did not arrive in time' },
};

/** A whole HTTP/1.1 error answer in the house shape, written straight to a socket, which it then closes. */
function rawProblem(status: number, description: string): string {
  const body = JSON.stringify(problemBody({ status, code: errorCodes[status] ?? 'bad_request', description }));
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'X-Content-Type-Options: nosniff',
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/** Koa's `app.callback()`, whose promise settles on its own (Koa answers its errors itself). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/** What a drain needs to know of the server: whether it has begun, the answers under way, the open connections. */
interface Connections {
  draining: boolean;
  readonly inFlight: Set<ServerResponse>;
  readonly sockets: Set<Socket>;
}

/** Hands each request to the handler, and keeps count of connections and answers under way for a drain. */
function track(server: Server, handler: RequestHandler): Connections {
  const connections: Connections = { draining: false, inFlight: new Set(), sockets: new Set() };
  const { inFlight, sockets } = connections;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (connections.draining) res.setHeader('Connection', 'close');
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    handler(req, res);
  });
  return connections;
}

/** Answers what Node's parser refuses in the house shape (protocolProblems), then closes the connection. */
function answerClientError(inFlight: ReadonlySet<ServerResponse>) {
  return (error: NodeJS.ErrnoException, socket: Duplex): void => {
    // Never write into the middle of an answer already under way on this connection (looked up only on an error).
    const answering = [...inFlight].some((res) => res.socket === socket && res.headersSent);
    if (error.code === 'ECONNRESET' || !socket.writable || answering) {
      socket.destroy();
      return;
    }
    const problem = protocolProblems[error.code ?? ''] ?? {
      status: 400,
      description: 'the request is not valid HTTP/1.1',
    };
    socket.end(rawProblem(problem.status, problem.description), () => socket.destroy());
  };
}

/** An `Expect` other than 100-continue (RFC 9110 §10.1.1): Node answers 417 before the app sees the request. */
function answerExpectationFailed(_req: IncomingMessage, res: ServerResponse): void {
  const body = JSON.stringify(
    problemBody({
      status: 417,
      code: 'expectation_failed',
      description: 'the only expectation served is 100-continue',
    }),
  );
  res.writeHead(417, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'X-Content-Type-Options': 'nosniff',
    Connection: 'close',
  });
  res.end(body);
}

function listenOn(server: Server, port: number, host: string | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) =>
      reject(new ListenError(port, error.code ?? 'unknown', { cause: error }));
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
}

/** HttpListener's drain: see there. */
function drain(server: Server, connections: Connections, deadlineMs: number): Promise<{ readonly cut: number }> {
  connections.draining = true;
  // Answers still to come say the connection ends with them; the client opens a new one (elsewhere) next time.
  for (const res of connections.inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
  return new Promise((resolve) => {
    const deadline = setTimeout(() => {
      clearInterval(idleSweep);
      const cut = connections.sockets.size;
      server.closeAllConnections();
      resolve({ cut });
    }, deadlineMs);
    // Idle keep-alive connections are closed once they have stayed idle for the grace period, not at once: a
    // connection that looks idle may already carry the client's next request on the wire, and closing it
    // resets that request (every one of 10 busy connections was reset that way in test/shutdown.test.ts).
    // Each such request is answered instead, with Connection: close. Any response sent from now on closes its
    // connection, so a connection idle at a sweep has been idle since before the drain began.
    const idleSweep = setInterval(() => server.closeIdleConnections(), Math.min(idleGraceMs, deadlineMs));
    // net.Server's close, not http.Server's: that one also closes every idle connection at once, and stops
    // enforcing the headers and request timeouts while connections drain.
    net.Server.prototype.close.call(server, () => {
      clearTimeout(deadline);
      clearInterval(idleSweep);
      resolve({ cut: 0 });
    });
  });
}

export async function listen(
  handler: RequestHandler,
  options: { readonly port: number; readonly host?: string; readonly timeouts: HttpTimeouts },
): Promise<HttpListener> {
  const { timeouts } = options;
  const server = createServer({
    headersTimeout: timeouts.headersTimeoutMs,
    requestTimeout: timeouts.requestTimeoutMs,
    keepAliveTimeout: timeouts.keepAliveTimeoutMs,
    // How often the two timeouts above are checked (Node's default is 30 s, which would stretch them by as much).
    connectionsCheckingInterval: Math.min(1_000, timeouts.headersTimeoutMs),
  });
  const connections = track(server, handler);
  server.on('clientError', answerClientError(connections.inFlight));
  server.on('checkExpectation', answerExpectationFailed);
  await listenOn(server, options.port, options.host);
  return {
    port: (server.address() as AddressInfo).port,
    drain: (deadlineMs) => drain(server, connections, deadlineMs),
  };
}
