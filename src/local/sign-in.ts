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

/** A request as a browser sends it: redirects not followed, and the hosted login's cookies kept across requests. */
type Send = (url: string, init?: RequestInit) => Promise<Response>;

function browser(cookies: Map<string, string>): Send {
  return async (url, init = {}) => {
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
}

/** Follows redirects until one leaves for the client's redirect URI, which carries the code; posts the login form. */
async function followToCallback(send: Send, options: SignInOptions, from: string): Promise<URL> {
  let at = from;
  let response = await send(at);
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
}

/** The hosted login's start for this sign-in: the code flow with PKCE's S256 challenge (RFC 7636 §4.2). */
function authorizeUrl(options: SignInOptions, verifier: string, state: string): string {
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
  return authorize.href;
}

/** The code the hosted login returned, once its answer is checked: no error, and the state this sign-in sent. */
function codeOf(callback: URL, state: string): string {
  const error = callback.searchParams.get('error');
  if (error)
    throw new SignInError(`the hosted login refused: ${error} ${callback.searchParams.get('error_description') ?? ''}`);
  if (callback.searchParams.get('state') !== state) throw new SignInError('the hosted login returned another state');
  const code = callback.searchParams.get('code');
  if (!code) throw new SignInError('the hosted login returned no code');
  return code;
}

/** The code exchanged at the token endpoint, with the PKCE verifier, for the person's tokens. */
async function exchange(options: SignInOptions, code: string, verifier: string): Promise<SignedIn> {
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
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const callback = await followToCallback(browser(cookies), options, authorizeUrl(options, verifier, state));
  return exchange(options, codeOf(callback, state), verifier);
}
