import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { LocalWebClient } from './clients.js';

/** What Cognito's sign-out needs: the provider whose session it ends, the issuer's origin, the web client. */
export interface LogoutContext {
  readonly provider: Provider;
  readonly origin: string;
  readonly webClient: LocalWebClient | undefined;
}

/**
 * Cognito's two forms of `/logout` (`logout_uri`, or `redirect_uri` with `response_type`); anything else at /logout is
 * OpenID's RP-initiated logout (id_token_hint, …), which oidc-provider answers.
 * https://docs.aws.amazon.com/cognito/latest/developerguide/logout-endpoint.html
 */
export function isCognitoLogout(url: URL): boolean {
  const { searchParams } = url;
  return (
    url.pathname === '/logout' &&
    (searchParams.has('logout_uri') || (searchParams.has('redirect_uri') && searchParams.has('response_type')))
  );
}

/**
 * Cognito's `/logout`: ends the person's session at the hosted login, then either sends them to one of the client's
 * sign-out URLs at once (`logout_uri`; oidc-provider's own end_session asks to confirm first), or, with
 * `redirect_uri` and `response_type`, to the login page again to sign in afresh, as Cognito does.
 */
export async function logout(
  context: LogoutContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const { searchParams } = url;
  const logoutUri = searchParams.get('logout_uri');
  const target = logoutUri ?? searchParams.get('redirect_uri') ?? '';
  const { webClient } = context;
  if (searchParams.get('client_id') !== webClient?.id || !webClient.redirectUris.includes(target)) {
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`${logoutUri === null ? 'redirect_uri' : 'logout_uri'} is not a URL of this client`);
    return;
  }
  const session = await context.provider.Session.get({ req, res } as unknown as KoaContextWithOIDC);
  // A session that was never stored (no cookie, or an unknown one) has nothing to end.
  if (!(session as { new?: boolean }).new) await session.destroy();
  const location = logoutUri ?? `${context.origin}/oauth2/authorize?${searchParams.toString()}`;
  res.writeHead(302, { location, 'cache-control': 'no-store' });
  res.end();
}
