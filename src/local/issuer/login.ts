import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import type { Accounts } from './accounts.js';

/** What the hosted login needs: the provider whose interactions it finishes, the people, the client's return URIs. */
export interface LoginContext {
  readonly provider: Provider;
  readonly accounts: Accounts;
  /** The web client's redirect URIs: the login form may send the browser back to their origins. */
  readonly returnTo: readonly string[];
}

/** oidc-provider's interaction path; the hosted login answers at it (see `interactions.url` in provider.ts). */
export const loginPath = (uid: string) => `/login/${uid}`;

/** The interaction a path names, when it is the hosted login's. */
export const loginUid = (path: string) => /^\/login\/([\w-]+)$/.exec(path)?.[1];

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
    <form method="post" action="${escapeHtml(loginPath(uid))}">
      <p><label>Username <input name="username" autocomplete="username" required></label></p>
      <p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
      <p><button type="submit">Sign in</button></p>
    </form>
  </body>
</html>`);
}

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/** Cognito asks for no consent: every scope and claim the client asked for is granted at once. */
async function grantConsent(
  provider: Provider,
  req: IncomingMessage,
  res: ServerResponse,
  details: Interaction,
): Promise<void> {
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
}

/** The posted username and password: the interaction finishes signed in, or the form comes back with a 401. */
async function checkPassword(
  context: LoginContext,
  req: IncomingMessage,
  res: ServerResponse,
  uid: string,
): Promise<void> {
  const form = new URLSearchParams(await readBody(req));
  const accountId = context.accounts.check(form.get('username'), form.get('password') ?? '');
  if (accountId === undefined) {
    sendLoginPage(res, uid, context.returnTo, 'Incorrect username or password.');
    return;
  }
  await context.provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
}

/** The hosted login: a form for the username and password; Cognito asks for no consent, so none is shown. */
export async function login(
  context: LoginContext,
  req: IncomingMessage,
  res: ServerResponse,
  uid: string,
): Promise<void> {
  const details = await context.provider.interactionDetails(req, res);
  if (details.prompt.name === 'consent') return grantConsent(context.provider, req, res, details);
  if (req.method === 'POST') return checkPassword(context, req, res, uid);
  sendLoginPage(res, uid, context.returnTo);
}
