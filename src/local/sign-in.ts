import { createHash, randomBytes } from 'node:crypto';

export interface SignInOptions {
  /** The hosted login's start (Cognito's `/oauth2/authorize`). */
  readonly authorizeUrl: string;
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly username: string;
  readonly password: string;
  readonly scope: string;
}

export interface SignedIn {
  readonly accessToken: string;
  readonly idToken: string;
  readonly refreshToken: string | undefined;
}

/** Why a sign-in ended without tokens, in a line a person reads. */
export class SignInError extends Error {
  override name = 'SignInError';
}

/**
 * A person's sign-in at the hosted login without a browser, as a browser would do it: the authorization code grant
 * with PKCE (S256), the login form posted with the session's cookies, then the code exchanged for tokens. For
 * `npm run token -- --user admin` and the tests.
 */
export async function signIn(
  options: SignInOptions,
  /** The browser's cookies for the hosted login, kept across sign-ins when given (a session that is remembered). */
  cookies: Map<string, string> = new Map(),
): Promise<SignedIn> {
  const send = async (url: string, init: RequestInit = {}): Promise<Response> => {
    const response = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: {
        ...(init.headers as Record<string, string>),
        cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
      },
      signal: AbortSignal.timeout(10_000),
    });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';');
      const at = pair.indexOf('=');
      cookies.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return response;
  };
  /** Follows redirects until one leaves for the client's redirect URI, which carries the code. */
  const follow = async (first: Response, from: string): Promise<URL> => {
    let response = first;
    let at = from;
    for (let hops = 0; hops < 10; hops += 1) {
      const location = response.headers.get('location');
      if (response.status === 401) throw new SignInError(`user ${options.username}: incorrect username or password`);
      if (!location) throw new SignInError(`the hosted login answered ${response.status} at ${at}`);
      const next = new URL(location, at);
      if (next.href.startsWith(options.redirectUri)) return next;
      await response.arrayBuffer();
      at = next.href;
      response = await send(at);
      if (response.status === 200 && (response.headers.get('content-type') ?? '').startsWith('text/html')) {
        // The login form: post the credentials to it.
        await response.arrayBuffer();
        response = await send(at, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ username: options.username, password: options.password }).toString(),
        });
      }
    }
    throw new SignInError('the hosted login redirected too often');
  };

  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const authorize = new URL(options.authorizeUrl);
  authorize.search = new URLSearchParams({
    response_type: 'code',
    client_id: options.clientId,
    redirect_uri: options.redirectUri,
    scope: options.scope,
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const callback = await follow(await send(authorize.href), authorize.href);
  const error = callback.searchParams.get('error');
  if (error)
    throw new SignInError(`the hosted login refused: ${error} ${callback.searchParams.get('error_description') ?? ''}`);
  if (callback.searchParams.get('state') !== state) throw new SignInError('the hosted login returned another state');
  const code = callback.searchParams.get('code');
  if (!code) throw new SignInError('the hosted login returned no code');

  const exchanged = await fetch(options.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: options.redirectUri,
      client_id: options.clientId,
      code_verifier: verifier,
    }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await exchanged.json()) as Record<string, unknown>;
  if (typeof body['access_token'] !== 'string' || typeof body['id_token'] !== 'string') {
    throw new SignInError(`the token endpoint answered ${exchanged.status} ${JSON.stringify(body['error'] ?? '')}`);
  }
  return {
    accessToken: body['access_token'],
    idToken: body['id_token'],
    refreshToken: typeof body['refresh_token'] === 'string' ? body['refresh_token'] : undefined,
  };
}
