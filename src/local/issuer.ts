import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors, type Adapter, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { ListenError } from '../http/listen.js';

export interface LocalClient {
  readonly id: string;
  readonly secret: string;
  readonly scopes: readonly string[];
}

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
}

export interface LocalIssuer {
  readonly issuer: string;
  readonly tokenUrl: string;
  readonly jwksUri: string;
  readonly port: number;
  readonly close: () => Promise<void>;
}

/**
 * The local issuer keeps no state: clients are static and JWT access tokens are self-contained, so there is nothing
 * to store (this also replaces oidc-provider's development adapter and its warning).
 */
class StatelessAdapter implements Adapter {
  upsert(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  find(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  findByUserCode(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  findByUid(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  consume(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  destroy(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  revokeByGrantId(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
}

// JWT access tokens need a resource server in oidc-provider; clients never name it, so every token is for this one.
const resource = 'urn:product-service';

/**
 * A Cognito-shaped OAuth2 issuer for local runs and tests, on oidc-provider: client_credentials at `/oauth2/token`,
 * JWKS and discovery under `/{userPoolId}/.well-known/`, access tokens with Cognito's header and claims
 * (`token_use`, `client_id`, `scope`, `version`, `auth_time`, no `aud`) signed by a key made fresh for each run.
 */
export async function startLocalIssuer(options: LocalIssuerOptions): Promise<LocalIssuer> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new ListenError(options.port, error.code ?? 'unknown', { cause: error })),
    );
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://localhost:${port}`;
  const issuer = `${origin}/${options.userPoolId}`;
  const jwksPath = `/${options.userPoolId}/.well-known/jwks.json`;
  const discoveryPath = `/${options.userPoolId}/.well-known/openid-configuration`;

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' };
  const allowedScopes = new Map(options.clients.map((client) => [client.id, client.scopes]));
  const corsOrigins = new Set(options.corsOrigins ?? []);

  const configuration: Configuration = {
    clients: options.clients.map((client) => ({
      client_id: client.id,
      client_secret: client.secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: client.scopes.join(' '),
    })),
    scopes: [...options.scopes],
    jwks: { keys: [signingKey] },
    adapter: StatelessAdapter,
    ttl: { ClientCredentials: options.accessTokenTtlSeconds ?? 3600 },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    routes: { token: '/oauth2/token', jwks: jwksPath },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    clientBasedCORS: (_ctx, requestOrigin) => corsOrigins.has(requestOrigin),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, _indicator, client) => ({
          scope: (allowedScopes.get(client.clientId) ?? []).join(' '),
          accessTokenFormat: 'jwt',
          accessTokenTTL: options.accessTokenTtlSeconds ?? 3600,
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    extraTokenClaims: (_ctx, token) =>
      token.kind === 'ClientCredentials' ? { token_use: 'access', version: 2 } : undefined,
    formats: {
      customizers: {
        jwt: (ctx: KoaContextWithOIDC, _token, jwt) => {
          const { payload } = jwt;
          const clientId = String(payload['client_id']);
          const allowed = allowedScopes.get(clientId) ?? [];
          // Cognito refuses a scope the client may not have; oidc-provider would silently drop an unknown one.
          const scopeParam = ctx.oidc.params?.['scope'];
          const requested = (typeof scopeParam === 'string' ? scopeParam : '')
            .split(' ')
            .filter((scope) => scope.length > 0);
          const refused = requested.find((scope) => !allowed.includes(scope));
          if (refused !== undefined) throw new errors.InvalidScope('requested scope is not allowed', refused);
          // Cognito grants every allowed scope when none is asked for.
          if (!payload['scope']) payload['scope'] = allowed.join(' ');
          payload['auth_time'] = payload['iat'];
          // Cognito access tokens have no `aud`, but oidc-provider insists on one right after this customizer. A
          // non-enumerable property satisfies that check and stays out of the signed JSON.
          const audience = payload['aud'];
          delete payload['aud'];
          Object.defineProperty(payload, 'aud', { value: audience, enumerable: false, writable: true });
          // Cognito's header is {alg, kid}: drop RFC 9068's `typ: at+jwt`.
          jwt.header = { typ: undefined };
        },
      },
    },
  };

  const provider = new Provider(issuer, configuration);
  provider.proxy = false;
  const handle = provider.callback();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    // Cognito serves discovery under the pool's path; oidc-provider serves it at the root.
    if (req.url === discoveryPath) req.url = '/.well-known/openid-configuration';
    void handle(req, res);
  });

  return {
    issuer,
    tokenUrl: `${origin}/oauth2/token`,
    jwksUri: `${origin}${jwksPath}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
