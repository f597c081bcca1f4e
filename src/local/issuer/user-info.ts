import type { IncomingMessage, ServerResponse } from 'node:http';
import { jwtVerify, type CryptoKey } from 'jose';
import type { Accounts } from './accounts.js';

/** What userInfo needs: the issuer's own name and public key, and the people. */
export interface UserInfoContext {
  readonly issuer: string;
  readonly publicKey: CryptoKey;
  readonly accounts: Accounts;
}

/**
 * Cognito's `/oauth2/userInfo` takes a person's access token. oidc-provider's own userinfo takes only tokens meant
 * for it, not a resource server's JWT, so the issuer answers it here: the token is verified with the issuer's own
 * key (jose), and the person's attributes are returned as Cognito returns them.
 * https://docs.aws.amazon.com/cognito/latest/developerguide/userinfo-endpoint.html
 */
export async function userInfo(context: UserInfoContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const token = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
  const answer = (status: number, body: object, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
    res.end(JSON.stringify(body));
  };
  const refuse = () => answer(401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
  if (!token) return refuse();
  try {
    const { payload } = await jwtVerify(token, context.publicKey, { issuer: context.issuer, algorithms: ['RS256'] });
    const user = payload['token_use'] === 'access' ? context.accounts.bySub(payload.sub) : undefined;
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
