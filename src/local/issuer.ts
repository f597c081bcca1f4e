import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, jwtVerify } from 'jose';
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { createMemoryAdapter } from 'oidc-provider/lib/adapters/memory_adapter.js';
import type { LocalUser } from '../config.js';
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
  /** People who sign in at the hosted login (`/oauth2/authorize`), with their Cognito groups. */
  readonly users?: readonly LocalUser[];
  /** The public app client for people: authorization code with PKCE, no secret, as a Cognito SPA client. */
  readonly webClient?: { readonly id: string; readonly redirectUris: readonly string[] };
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

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > 16 * 1024) req.destroy(new Error('the form is too large'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

/** A UUID-shaped name for `text`, the same every time: one sign-in's tokens share their origin_jti and event_id. */
function uuidOf(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Compared in constant time, so that a wrong password takes as long as a right one. */
function samePassword(expected: string, given: string): boolean {
  const [a, b] = [createHash('sha256').update(expected).digest(), createHash('sha256').update(given).digest()];
  return timingSafeEqual(a, b);
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function sendLoginPage(res: ServerResponse, uid: string, returnTo: readonly string[], problem?: string): void {
  // form-action covers the redirects after the post too: back to the client's redirect URI, on its origin.
  const formAction = ["'self'", ...new Set(returnTo.map((uri) => new URL(uri).origin))].join(' ');
  res.writeHead(problem ? 401 : 200, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; form-action ${formAction}; frame-ancestors 'none'`,
    'cache-control': 'no-store',
  });
  res.end(`<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><title>Sign in</title></head>
  <body style="font-family: sans-serif; max-width: 22rem; margin: 4rem auto">
    <h1>Sign in</h1>
    <p>The local ProductService user pool (users come from LOCAL_USERS).</p>
    ${problem ? `<p role="alert" style="color: #b00">${escapeHtml(problem)}</p>` : ''}
    <form method="post" action="/login/${escapeHtml(uid)}">
      <p><label>Username <input name="username" autocomplete="username" required></label></p>
      <p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
      <p><button type="submit">Sign in</button></p>
    </form>
  </body>
</html>`);
}

// JWT access tokens need a resource server in oidc-provider; clients never name it, so every token is for this one.
const resource = 'urn:product-service';

/** What oidc-provider's authorization code and refresh token remember of the sign-in they come from. */
interface Signed {
  readonly authTime?: number;
}

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

  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' };
  const allowedScopes = new Map<string, readonly string[]>(options.clients.map((client) => [client.id, client.scopes]));
  const webClient = options.webClient;
  if (webClient) allowedScopes.set(webClient.id, options.scopes);
  // Cognito's `sub` of a user is a UUID; here one per user per run, and the username beside it.
  const users = new Map<string, LocalUser>((options.users ?? []).map((user) => [randomUUID(), user]));
  const userBySub = (sub: string | undefined) => (sub === undefined ? undefined : users.get(sub));
  const corsOrigins = new Set(options.corsOrigins ?? []);
  const accessTokenValues = new WeakMap<object, string>();

  const configuration: Configuration = {
    clients: [
      ...options.clients.map((client) => ({
        client_id: client.id,
        client_secret: client.secret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic' as const,
        scope: client.scopes.join(' '),
      })),
      ...(webClient
        ? [
            {
              client_id: webClient.id,
              token_endpoint_auth_method: 'none' as const,
              grant_types: ['authorization_code', 'refresh_token'],
              response_types: ['code' as const],
              redirect_uris: [...webClient.redirectUris],
              post_logout_redirect_uris: [...webClient.redirectUris],
              // Cognito's ID tokens always say when the person signed in.
              require_auth_time: true,
              scope: ['openid', 'email', ...options.scopes].join(' '),
            },
          ]
        : []),
    ],
    scopes: [...options.scopes],
    jwks: { keys: [signingKey] },
    // Sessions, codes and refresh tokens live in memory: the issuer starts clean every run.
    adapter: createMemoryAdapter(),
    ttl: {
      ClientCredentials: options.accessTokenTtlSeconds ?? 3600,
      AccessToken: options.accessTokenTtlSeconds ?? 3600,
      IdToken: 3600,
      AuthorizationCode: 300,
      RefreshToken: 30 * 24 * 3600,
      Interaction: 3600,
      Session: 24 * 3600,
      Grant: 30 * 24 * 3600,
    },
    pkce: { required: () => true },
    // The authorization code grant only: no implicit or hybrid flow, which leak tokens into URLs (RFC 9700 §2.1.2).
    responseTypes: ['code'],
    // Cognito always issues a refresh token with the authorization code grant.
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Cognito's names: the ID token and userInfo carry the username and groups; the token_use tells them apart.
    claims: {
      openid: ['sub', 'cognito:username', 'cognito:groups', 'token_use', 'jti', 'origin_jti', 'event_id', 'at_hash'],
      email: ['email', 'email_verified'],
    },
    conformIdTokenClaims: false,
    findAccount: (ctx, sub) => {
      const user = userBySub(sub);
      if (!user) return undefined;
      // The sign-in these tokens come from: Cognito gives an ID token and its access token the same origin_jti.
      const grantId = (ctx.oidc.entities as { Grant?: { jti?: string } }).Grant?.jti;
      return {
        accountId: sub,
        claims: (use: string) => {
          // Asked for when the ID token is made, after its access token was saved (findAccount runs before).
          const { AccessToken } = ctx.oidc.entities as { AccessToken?: object };
          // oidc-provider hashes the value given into at_hash (OIDC Core §3.3.2.11), as Cognito's ID tokens carry.
          const accessToken = AccessToken ? accessTokenValues.get(AccessToken) : undefined;
          return {
            sub,
            'cognito:username': user.username,
            'cognito:groups': [...user.groups],
            email: `${user.username}@example.com`,
            email_verified: true,
            ...(use === 'id_token'
              ? {
                  token_use: 'id',
                  jti: randomUUID(),
                  ...(accessToken ? { at_hash: accessToken } : {}),
                  ...(grantId ? { origin_jti: uuidOf(`origin:${grantId}`), event_id: uuidOf(`event:${grantId}`) } : {}),
                }
              : {}),
          };
        },
      };
    },
    interactions: { url: (_ctx, interaction) => `/login/${interaction.uid}` },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    routes: {
      authorization: '/oauth2/authorize',
      token: '/oauth2/token',
      userinfo: '/oauth2/userInfo',
      end_session: '/logout',
      jwks: jwksPath,
    },
    // 'none' for the public app client of people (PKCE instead of a secret), as a Cognito SPA client.
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    clientBasedCORS: (_ctx, requestOrigin) => corsOrigins.has(requestOrigin),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // RFC 9449: a token request with a DPoP proof gets a token bound to its key (`cnf.jkt`), as Auth0 or Keycloak
      // issue them; without a proof, a bearer token as before.
      dPoP: { enabled: true },
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
    extraTokenClaims: (_ctx, token) => {
      if (token.kind === 'ClientCredentials') return { token_use: 'access', version: 2 };
      const user = userBySub(token.accountId);
      if (!user) return undefined;
      // A person's access token, as Cognito issues it.
      return {
        token_use: 'access',
        version: 2,
        username: user.username,
        'cognito:groups': [...user.groups],
        origin_jti: token.grantId ? uuidOf(`origin:${token.grantId}`) : randomUUID(),
        event_id: token.grantId ? uuidOf(`event:${token.grantId}`) : randomUUID(),
      };
    },
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
          // A person's token names the OpenID scope beside the resource server's, as Cognito's does.
          if (payload['username'] !== undefined) payload['scope'] = `openid ${String(payload['scope'])}`;
          // When the person signed in (RFC 9470 §6.1 reads it as `auth_time`), kept across refreshes as Cognito keeps
          // it: the code and the refresh token remember it. A machine's token says when it was issued, as Cognito's.
          const { AuthorizationCode, RefreshToken } = ctx.oidc.entities as {
            AuthorizationCode?: Signed;
            RefreshToken?: Signed;
          };
          payload['auth_time'] ??= AuthorizationCode?.authTime ?? RefreshToken?.authTime ?? payload['iat'];
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
  // oidc-provider gives an ID token at_hash only at the authorization endpoint; at the token endpoint (the code and
  // refresh grants) the access token is saved just before the ID token is made, so its value is kept here for it.
  const { prototype } = provider.AccessToken;
  const save: (this: object, ...args: unknown[]) => Promise<string> = Reflect.get(prototype, 'save');
  Reflect.set(prototype, 'save', async function saveAndKeep(this: object, ...args: unknown[]) {
    const value = await save.apply(this, args);
    accessTokenValues.set(this, value);
    return value;
  });
  const handle = provider.callback();
  const returnTo = webClient?.redirectUris ?? [];

  /**
   * Cognito's `/oauth2/userInfo` takes a person's access token. oidc-provider's own userinfo takes only tokens meant
   * for it, not a resource server's JWT, so the issuer answers it here: the token is verified with the issuer's own
   * key (jose), and the person's attributes are returned as Cognito returns them.
   */
  async function userInfo(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const token = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const answer = (status: number, body: object, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
      res.end(JSON.stringify(body));
    };
    const refuse = () =>
      answer(401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
    if (!token) return refuse();
    try {
      const { payload } = await jwtVerify(token, publicKey, { issuer, algorithms: ['RS256'] });
      const user = payload['token_use'] === 'access' ? userBySub(payload.sub) : undefined;
      if (!user || payload['username'] !== user.username) return refuse();
      answer(200, {
        sub: payload.sub,
        username: user.username,
        email: `${user.username}@example.com`,
        email_verified: 'true',
      });
    } catch {
      refuse();
    }
  }

  /** The hosted login: a form for the username and password; Cognito asks for no consent, so none is shown. */
  async function login(req: IncomingMessage, res: ServerResponse, uid: string): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    if (details.prompt.name === 'consent') {
      const { accountId } = details.session ?? {};
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ clientId: String(details.params['client_id']), ...(accountId ? { accountId } : {}) });
      if (!grant) throw new Error('the grant of this interaction is gone');
      const missing = details.prompt.details as {
        missingOIDCScope?: string[];
        missingOIDCClaims?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } });
      return;
    }
    if (req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      const found = [...users].find(([, user]) => user.username === form.get('username'));
      if (found && samePassword(found[1].password, form.get('password') ?? '')) {
        await provider.interactionFinished(
          req,
          res,
          { login: { accountId: found[0] } },
          { mergeWithLastSubmission: false },
        );
        return;
      }
      sendLoginPage(res, uid, returnTo, 'Incorrect username or password.');
      return;
    }
    sendLoginPage(res, uid, returnTo);
  }

  /**
   * Cognito's `/logout`: ends the person's session at the hosted login, then either sends them to one of the client's
   * sign-out URLs at once (`logout_uri`; oidc-provider's own end_session asks to confirm first), or, with
   * `redirect_uri` and `response_type`, to the login page again to sign in afresh, as Cognito does.
   */
  async function logout(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const { searchParams } = url;
    const logoutUri = searchParams.get('logout_uri');
    const target = logoutUri ?? searchParams.get('redirect_uri') ?? '';
    if (searchParams.get('client_id') !== webClient?.id || !returnTo.includes(target)) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`${logoutUri === null ? 'redirect_uri' : 'logout_uri'} is not a URL of this client`);
      return;
    }
    const session = await provider.Session.get({ req, res } as unknown as KoaContextWithOIDC);
    // A session that was never stored (no cookie, or an unknown one) has nothing to end.
    if (!(session as { new?: boolean }).new) await session.destroy();
    const location = logoutUri ?? `${origin}/oauth2/authorize?${searchParams.toString()}`;
    res.writeHead(302, { location, 'cache-control': 'no-store' });
    res.end();
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', origin);
    const { searchParams } = url;
    // Cognito's two forms; anything else at /logout is OpenID's RP-initiated logout (id_token_hint, …).
    const cognitoLogout =
      searchParams.has('logout_uri') || (searchParams.has('redirect_uri') && searchParams.has('response_type'));
    if (url.pathname === '/logout' && cognitoLogout) {
      logout(req, res, url).catch(() => {
        res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('the sign-out could not be completed');
      });
      return;
    }
    // Cognito serves discovery under the pool's path; oidc-provider serves it at the root.
    if (req.url === discoveryPath) req.url = '/.well-known/openid-configuration';
    if ((req.url ?? '').split('?')[0] === '/oauth2/userInfo') {
      void userInfo(req, res);
      return;
    }
    const uid = /^\/login\/([\w-]+)$/.exec(req.url ?? '')?.[1];
    if (uid !== undefined) {
      login(req, res, uid).catch((error: unknown) => {
        // An expired or unknown interaction: say so, as the hosted UI does, rather than a stack.
        res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(
          `The sign-in could not continue: ${error instanceof Error ? error.message : 'unknown error'}. Start again.`,
        );
      });
      return;
    }
    void handle(req, res);
  });

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
