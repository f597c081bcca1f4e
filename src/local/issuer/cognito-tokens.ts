import { createHash, randomUUID } from 'node:crypto';
import type Provider from 'oidc-provider';
import { errors, type Configuration, type FindAccount, type KoaContextWithOIDC } from 'oidc-provider';
import type { Accounts } from './accounts.js';

// The shapes of Cognito's tokens, given to oidc-provider's: header {alg, kid}, `token_use`, `client_id`, `scope`,
// `version`, `auth_time`, no `aud`; a person's tokens carry `username`, `cognito:groups`, `origin_jti`, `event_id`.
// https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html
// https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-id-token.html

/** Each access token's value, by its oidc-provider model, for the ID token made after it (see keepAccessTokenValues). */
export type AccessTokenValues = WeakMap<object, string>;

/** What oidc-provider's authorization code and refresh token remember of the sign-in they come from. */
interface Signed {
  readonly authTime?: number;
}

/** A UUID-shaped name for `text`, the same every time: one sign-in's tokens share their origin_jti and event_id. */
function uuidOf(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Cognito's names: the ID token and userInfo carry the username and groups; the token_use tells them apart. */
export const cognitoClaims: NonNullable<Configuration['claims']> = {
  openid: ['sub', 'cognito:username', 'cognito:groups', 'token_use', 'jti', 'origin_jti', 'event_id', 'at_hash'],
  email: ['email', 'email_verified'],
};

/** A person's account, whose claims are an ID token's as Cognito makes it. */
export function findAccount(accounts: Accounts, accessTokenValues: AccessTokenValues): FindAccount {
  return (ctx, sub) => {
    const user = accounts.bySub(sub);
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
  };
}

/** The claims of an access token beyond oidc-provider's own: a machine's, or a person's as Cognito issues it. */
export function accessTokenClaims(accounts: Accounts): NonNullable<Configuration['extraTokenClaims']> {
  return (_ctx, token) => {
    if (token.kind === 'ClientCredentials') return { token_use: 'access', version: 2 };
    const user = accounts.bySub(token.accountId);
    if (!user) return undefined;
    return {
      token_use: 'access',
      version: 2,
      username: user.username,
      'cognito:groups': [...user.groups],
      origin_jti: token.grantId ? uuidOf(`origin:${token.grantId}`) : randomUUID(),
      event_id: token.grantId ? uuidOf(`event:${token.grantId}`) : randomUUID(),
    };
  };
}

/** Cognito refuses a scope the client may not have, where oidc-provider would drop it silently. */
function refuseScopesNotAllowed(ctx: KoaContextWithOIDC, allowed: readonly string[]): void {
  const scopeParam = ctx.oidc.params?.['scope'];
  const requested = (typeof scopeParam === 'string' ? scopeParam : '').split(' ').filter((scope) => scope.length > 0);
  const refused = requested.find((scope) => !allowed.includes(scope));
  if (refused !== undefined) throw new errors.InvalidScope('requested scope is not allowed', refused);
}

type JwtCustomizer = NonNullable<NonNullable<NonNullable<Configuration['formats']>['customizers']>['jwt']>;

/** Reshapes oidc-provider's JWT access token (RFC 9068) into Cognito's, just before it is signed. */
export function cognitoAccessToken(scopesOf: (clientId: string) => readonly string[]): JwtCustomizer {
  return (ctx, _token, jwt) => {
    const { payload } = jwt;
    const allowed = scopesOf(String(payload['client_id']));
    refuseScopesNotAllowed(ctx, allowed);
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
  };
}

/**
 * oidc-provider gives an ID token at_hash only at the authorization endpoint; at the token endpoint (the code and
 * refresh grants) the access token is saved just before the ID token is made, so its value is kept here for it.
 */
export function keepAccessTokenValues(provider: Provider, accessTokenValues: AccessTokenValues): void {
  const { prototype } = provider.AccessToken;
  const save: (this: object, ...args: unknown[]) => Promise<string> = Reflect.get(prototype, 'save');
  Reflect.set(prototype, 'save', async function saveAndKeep(this: object, ...args: unknown[]) {
    const value = await save.apply(this, args);
    accessTokenValues.set(this, value);
    return value;
  });
}
