import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export interface TestKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export type JwksBehaviour = 'ok' | 'fail' | 'hang';

/**
 * A real HTTP JWKS server that a test controls: which keys it publishes, whether it answers, fails or hangs, and
 * how many requests it saw. Serves Cognito's layout: `/{pool}/.well-known/jwks.json`.
 */
export interface JwksServer {
  readonly baseUrl: string;
  readonly userPoolId: string;
  readonly issuer: string;
  readonly jwksUri: string;
  /** Requests for the JWKS so far. */
  readonly requests: () => number;
  /** Requests for `/{pool}/.well-known/openid-configuration` so far. */
  readonly discoveryRequests: () => number;
  publish(keys: readonly TestKey[]): void;
  behave(behaviour: JwksBehaviour): void;
  /** Answer only after this many milliseconds. */
  delay(ms: number): void;
  /** Serve this exact body as the JWKS instead of the published keys. */
  serveRaw(body: string | undefined): void;
  /** Sign a token with `key`, Cognito access-token claims by default. */
  sign(key: TestKey, claims?: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export async function makeKey(alg = 'RS256', kid: string = randomUUID()): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk };
}

export function cognitoClaims(issuer: string, overrides: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    sub: 'test-client',
    token_use: 'access',
    scope: 'products/read products/write',
    auth_time: now,
    iss: issuer,
    exp: now + 3600,
    iat: now,
    version: 2,
    jti: randomUUID(),
    client_id: 'test-client',
    ...overrides,
  };
}

export async function startJwksServer(userPoolId = 'local_TestPool'): Promise<JwksServer> {
  let keys: readonly TestKey[] = [];
  let behaviour: JwksBehaviour = 'ok';
  let delayMs = 0;
  let raw: string | undefined;
  let requests = 0;
  let discoveryRequests = 0;
  let issuer = '';
  let jwksUri = '';
  const hanging = new Set<ServerResponse>();
  const jwksPath = `/${userPoolId}/.well-known/jwks.json`;
  const discoveryPath = `/${userPoolId}/.well-known/openid-configuration`;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === discoveryPath) {
      discoveryRequests += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer, jwks_uri: jwksUri }));
      return;
    }
    if (req.url !== jwksPath) {
      res.writeHead(404).end();
      return;
    }
    requests += 1;
    const answer = (): void => {
      if (behaviour === 'hang') {
        hanging.add(res);
        return;
      }
      if (behaviour === 'fail') {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('down');
        return;
      }
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(raw ?? JSON.stringify({ keys: keys.map((key) => key.publicJwk) }));
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  issuer = `${baseUrl}/${userPoolId}`;
  jwksUri = `${baseUrl}${jwksPath}`;

  return {
    baseUrl,
    userPoolId,
    issuer,
    jwksUri,
    requests: () => requests,
    discoveryRequests: () => discoveryRequests,
    publish(next) {
      keys = next;
    },
    behave(next) {
      behaviour = next;
    },
    delay(ms) {
      delayMs = ms;
    },
    serveRaw(body) {
      raw = body;
    },
    sign(key, claims = cognitoClaims(issuer), header = {}) {
      return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.privateKey);
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
