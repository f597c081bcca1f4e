import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import type { LocalUser } from '../config.js';
import { ListenError } from '../http/listen.js';
import { createAccounts } from './issuer/accounts.js';
import { createClients, type LocalClient, type LocalWebClient } from './issuer/clients.js';
import { login, loginUid, type LoginContext } from './issuer/login.js';
import { isCognitoLogout, logout, type LogoutContext } from './issuer/logout.js';
import { createProvider } from './issuer/provider.js';
import { userInfo, type UserInfoContext } from './issuer/user-info.js';

// The embedded issuer's parts, one room each under issuer/: accounts.ts (the people and their groups), clients.ts
// (the app clients and their scopes), login.ts and logout.ts (the hosted login), cognito-tokens.ts (Cognito's token
// shapes), user-info.ts (Cognito's userInfo), provider.ts (oidc-provider configured from them). This file is the
// server that routes requests among them.
export type { LocalClient, LocalWebClient };

export interface LocalIssuerOptions {
  /** 0 picks a free port. */
  readonly port: number;
  readonly userPoolId: string;
  readonly clients: readonly LocalClient[];
  /** Every scope the resource server defines (Cognito's `{resourceServer}/{scope}` names). */
  readonly scopes: readonly string[];
  readonly accessTokenTtlSeconds?: number;
  /** Browser origins allowed to call the token endpoint (the docs page). */
  readonly corsOrigins?: readonly string[];
  /** People who sign in at the hosted login (`/oauth2/authorize`), with their Cognito groups. */
  readonly users?: readonly LocalUser[];
  /** The public app client for people: authorization code with PKCE, no secret, as a Cognito SPA client. */
  readonly webClient?: LocalWebClient;
}

export interface LocalIssuer {
  readonly issuer: string;
  readonly tokenUrl: string;
  /** The hosted login's start: Cognito's `/oauth2/authorize`. */
  readonly authorizeUrl: string;
  readonly jwksUri: string;
  readonly port: number;
  readonly close: () => Promise<void>;
}

/** Everything a request may be routed to, each with what it needs. */
interface Endpoints {
  readonly handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  readonly discoveryPath: string;
  readonly login: LoginContext;
  readonly logout: LogoutContext;
  readonly userInfo: UserInfoContext;
}

/** Listens on loopback only: the issuer's passwords and client secret are well known. */
async function listenOnLoopback(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new ListenError(port, error.code ?? 'unknown', { cause: error })),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return server;
}

/** A plain-text 400 for a sign-in or sign-out that cannot go on, as the hosted UI says so rather than a stack. */
function sendStuck(res: ServerResponse, text: string): void {
  res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(text);
}

/** Cognito's own endpoints first, then oidc-provider's for everything else. */
function route(endpoints: Endpoints, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', endpoints.logout.origin);
  if (isCognitoLogout(url)) {
    logout(endpoints.logout, req, res, url).catch(() => sendStuck(res, 'the sign-out could not be completed'));
    return;
  }
  // Cognito serves discovery under the pool's path; oidc-provider serves it at the root.
  if (req.url === endpoints.discoveryPath) req.url = '/.well-known/openid-configuration';
  if ((req.url ?? '').split('?')[0] === '/oauth2/userInfo') {
    void userInfo(endpoints.userInfo, req, res);
    return;
  }
  const uid = loginUid(req.url ?? '');
  if (uid !== undefined) {
    login(endpoints.login, req, res, uid).catch((error: unknown) =>
      // An expired or unknown interaction: say so, as the hosted UI does, rather than a stack.
      sendStuck(
        res,
        `The sign-in could not continue: ${error instanceof Error ? error.message : 'unknown error'}. Start again.`,
      ),
    );
    return;
  }
  void endpoints.handle(req, res);
}

/**
 * A Cognito-shaped OAuth2 issuer for local runs and tests, on oidc-provider: client_credentials at `/oauth2/token`,
 * JWKS and discovery under `/{userPoolId}/.well-known/`, access tokens with Cognito's header and claims
 * (`token_use`, `client_id`, `scope`, `version`, `auth_time`, no `aud`) signed by a key made fresh for each run.
 */
export async function startLocalIssuer(options: LocalIssuerOptions): Promise<LocalIssuer> {
  const server = await listenOnLoopback(options.port);
  const { port } = server.address() as AddressInfo;
  const origin = `http://localhost:${port}`;
  const issuer = `${origin}/${options.userPoolId}`;
  const jwksPath = `/${options.userPoolId}/.well-known/jwks.json`;
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' };
  const { webClient } = options;
  const accounts = createAccounts(options.users ?? []);
  const provider = createProvider({
    issuer,
    signingKey,
    jwksPath,
    clients: createClients({ clients: options.clients, webClient, scopes: options.scopes }),
    accounts,
    scopes: options.scopes,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 3600,
    corsOrigins: options.corsOrigins ?? [],
  });
  const endpoints: Endpoints = {
    handle: provider.callback(),
    discoveryPath: `/${options.userPoolId}/.well-known/openid-configuration`,
    login: { provider, accounts, returnTo: webClient?.redirectUris ?? [] },
    logout: { provider, origin, webClient },
    userInfo: { issuer, publicKey, accounts },
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => route(endpoints, req, res));
  return {
    issuer,
    tokenUrl: `${origin}/oauth2/token`,
    authorizeUrl: `${origin}/oauth2/authorize`,
    jwksUri: `${origin}${jwksPath}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
