import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * How the fake issuer answers its discovery document and its JWKS:
 * - `ok`: the published keys;
 * - `down`: the issuer is unavailable, as a 503 by default (`status` sets another), or, with `refuse: true`, as a
 *   closed port: connections are refused;
 * - `garbage`: 200 with a body that is not a key set (an HTML page by default; `body` sets it);
 * - `hang`: the connection is accepted and never answered.
 */
export type IssuerMode = 'ok' | 'down' | 'garbage' | 'hang';

export interface ModeOptions {
  /** `down`: the status answered; 503 by default. */
  readonly status?: number;
  /** `down`: close the port instead of answering, so that connections are refused. */
  readonly refuse?: boolean;
  /** `garbage`: the body answered with 200. */
  readonly body?: string;
}

export interface IssuerDocuments {
  discovery(): unknown;
  jwks(): unknown;
}

export interface IssuerServer {
  readonly baseUrl: string;
  readonly requests: { readonly jwks: number; readonly discovery: number };
  setMode(mode: IssuerMode, options?: ModeOptions): Promise<void>;
  delay(ms: number): void;
  close(): Promise<void>;
}

const garbagePage = '<!doctype html><title>Maintenance</title><p>Back soon.</p>';

/**
 * The HTTP side of the fake issuer: two documents at `paths`, answered as the mode says, on 127.0.0.1 at `port` (0: a
 * free one).
 */
export async function startIssuerServer(
  requestedPort: number,
  paths: { readonly discovery: string; readonly jwks: string },
  documents: IssuerDocuments,
): Promise<IssuerServer> {
  let mode: IssuerMode = 'ok';
  let options: ModeOptions = {};
  let delayMs = 0;
  const requests = { jwks: 0, discovery: 0 };
  const hanging = new Set<ServerResponse>();

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const which = req.url === paths.jwks ? 'jwks' : req.url === paths.discovery ? 'discovery' : undefined;
    if (which === undefined) {
      res.writeHead(404).end();
      return;
    }
    requests[which] += 1;
    const answer = (): void => {
      if (mode === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
      } else if (mode === 'down') {
        res.writeHead(options.status ?? 503, { 'content-type': 'text/plain' }).end('unavailable');
      } else if (mode === 'garbage') {
        res.writeHead(200, { 'content-type': 'text/html' }).end(options.body ?? garbagePage);
      } else {
        const body = which === 'jwks' ? documents.jwks() : documents.discovery();
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      }
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });

  let listening = false;
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        listening = true;
        resolve();
      });
    });
  const stop = () => {
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    return closed;
  };

  await listen(requestedPort);
  // The port it got (the requested one, or the free one 0 found), kept so that `ok` after a refusal reopens it.
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    get requests() {
      return { ...requests };
    },
    async setMode(next, nextOptions = {}) {
      if (nextOptions.refuse && next !== 'down') throw new TypeError('refuse applies to the down mode only');
      mode = next;
      options = nextOptions;
      const refuse = next === 'down' && nextOptions.refuse === true;
      if (refuse && listening) await stop();
      // Back on the same port: a client configured with the issuer's URL finds it again.
      if (!refuse && !listening) await listen(port);
    },
    delay(ms) {
      delayMs = ms;
    },
    async close() {
      if (listening) await stop();
    },
  };
}
