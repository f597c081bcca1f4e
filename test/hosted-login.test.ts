import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { localWebClientId } from '../src/local/web-client.js';
import { signIn, SignInError, type SignedIn } from '../src/local/sign-in.js';
import { bearer, fetchToken, localTestConfig, startService, type RunningService } from './support/service.js';

// A person's sign-in at the embedded issuer's hosted login, as Cognito's: authorization code with PKCE, users and
// groups from LOCAL_USERS, and tokens shaped as Cognito issues them for a person.
describe('the hosted login', () => {
  let running: RunningService;
  let issuer: NonNullable<RunningService['service']['localIssuer']>;
  let admin: SignedIn;
  const redirectUri = 'http://localhost:0/docs/oauth2-redirect.html';
  const as = (username: string, password: string, scope = 'openid email products/read products/write') =>
    signIn({
      authorizeUrl: issuer.authorizeUrl,
      tokenUrl: issuer.tokenUrl,
      clientId: localWebClientId,
      redirectUri,
      username,
      password,
      scope,
    });

  // OIDC Core §3.3.2.11: the left half of the SHA-256 of the access token's ASCII, base64url; Cognito's ID tokens
  // carry it, so a client can bind the two tokens of one answer.
  const atHashOf = (accessToken: string) =>
    createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');

  /** The reader signed in with a browser's cookie jar: the hosted login remembers the session until /logout. */
  const readerSignedIn = async () => {
    const jar = new Map<string, string>();
    const options = {
      authorizeUrl: issuer.authorizeUrl,
      tokenUrl: issuer.tokenUrl,
      clientId: localWebClientId,
      redirectUri,
      username: 'reader',
      scope: 'openid products/read',
    };
    await signIn({ ...options, password: 'reader-password' }, jar);
    return { jar, options, cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; ') };
  };

  before(async () => {
    running = await startService(localTestConfig());
    assert.ok(running.service.localIssuer);
    issuer = running.service.localIssuer;
    admin = await as('admin', 'admin-password');
  });
  after(() => running.close());

  it("issues a person's access token as Cognito does: username, groups, scope with openid, no aud", () => {
    assert.deepEqual(decodeProtectedHeader(admin.accessToken), {
      alg: 'RS256',
      kid: decodeProtectedHeader(admin.accessToken).kid,
    });
    const claims = decodeJwt(admin.accessToken);
    // The claims of AWS's documented example of a user's access token (Cognito developer guide, "Understanding
    // the access token"): sub, cognito:groups, iss, version, client_id, origin_jti, event_id, token_use, scope,
    // auth_time, exp, iat, jti, username.
    assert.deepEqual(Object.keys(claims).sort(), [
      'auth_time',
      'client_id',
      'cognito:groups',
      'event_id',
      'exp',
      'iat',
      'iss',
      'jti',
      'origin_jti',
      'scope',
      'sub',
      'token_use',
      'username',
      'version',
    ]);
    assert.equal(claims['token_use'], 'access');
    assert.equal(claims['client_id'], localWebClientId);
    assert.equal(claims['username'], 'admin');
    assert.deepEqual(claims['cognito:groups'], ['catalog-admins']);
    assert.match(String(claims['scope']), /^openid( \S+)* products\/read products\/write$/);
    assert.match(String(claims.sub), /^[0-9a-f-]{36}$/, 'a UUID, as Cognito makes');
  });

  it("issues a person's ID token as Cognito does: aud is the client, cognito:username, groups, email, at_hash", async () => {
    const jwks = createRemoteJWKSet(new URL(issuer.jwksUri));
    const { payload } = await jwtVerify(admin.idToken, jwks, { issuer: issuer.issuer, audience: localWebClientId });
    // The claims of AWS's documented example of an ID token (Cognito developer guide, "Understanding the identity
    // (ID) token"), without custom attributes.
    assert.deepEqual(Object.keys(payload).sort(), [
      'at_hash',
      'aud',
      'auth_time',
      'cognito:groups',
      'cognito:username',
      'email',
      'email_verified',
      'event_id',
      'exp',
      'iat',
      'iss',
      'jti',
      'origin_jti',
      'sub',
      'token_use',
    ]);
    assert.equal(payload['token_use'], 'id');
    assert.equal(payload['cognito:username'], 'admin');
    assert.deepEqual(payload['cognito:groups'], ['catalog-admins']);
    assert.equal(payload['email'], 'admin@example.com');
    assert.equal(typeof payload['auth_time'], 'number');
    const access = decodeJwt(admin.accessToken);
    assert.equal(access['auth_time'], payload['auth_time'], 'the access token says when the person signed in');
    assert.equal(payload.sub, access.sub);
    // One sign-in: the ID token and its access token share origin_jti and event_id, each has a jti of its own.
    assert.equal(payload['origin_jti'], access['origin_jti']);
    assert.equal(payload['event_id'], access['event_id']);
    assert.match(String(payload.jti), /^[0-9a-f-]{36}$/);
    assert.notEqual(payload.jti, access.jti);
    assert.equal(payload['at_hash'], atHashOf(admin.accessToken));
    assert.ok(admin.refreshToken, 'a refresh token, as Cognito issues with the code grant');
  });

  it('lets the service accept a person with their token, and refuses a wrong password at the login form', async () => {
    assert.equal((await fetch(`${running.url}/products`, { headers: bearer(admin.accessToken) })).status, 200);
    await assert.rejects(as('admin', 'not-the-password'), SignInError);
    await assert.rejects(as('nobody', 'admin-password'), /incorrect username or password/);
  });

  it('gives a reader in no group a token without groups', async () => {
    const reader = await as('reader', 'reader-password');
    assert.deepEqual(decodeJwt(reader.accessToken)['cognito:groups'], []);
  });

  it('lets a person in catalog-admins write, and tells a reader in no group which group is missing (403)', async () => {
    const product = JSON.stringify({ name: 'Trek Rail', imageURL: 'https://images.example.com/rail.png' });
    const post = (token: string) =>
      fetch(`${running.url}/products`, {
        method: 'POST',
        headers: { ...bearer(token), 'content-type': 'application/json' },
        body: product,
      });
    assert.equal((await post(admin.accessToken)).status, 201);
    const reader = await as('reader', 'reader-password');
    const refused = await post(reader.accessToken);
    assert.equal(refused.status, 403);
    const body = (await refused.json()) as { error: string; error_description: string };
    assert.equal(body.error, 'insufficient_scope');
    assert.match(body.error_description, /required group: one of catalog-admins/);
    assert.match(refused.headers.get('www-authenticate') ?? '', /error="insufficient_scope".*catalog-admins/);
    assert.equal((await fetch(`${running.url}/products`, { headers: bearer(reader.accessToken) })).status, 200);
    // A machine client keeps its rule: products/write is enough, it has no groups.
    const machine = await fetchToken(issuer.tokenUrl, { id: 'local-client', secret: 'local-client-secret' });
    assert.equal((await post(machine)).status, 201);
  });

  it("answers /oauth2/userInfo for a person's access token, and refuses anything else", async () => {
    const userInfo = issuer.authorizeUrl.replace('/oauth2/authorize', '/oauth2/userInfo');
    const info = await fetch(userInfo, { headers: bearer(admin.accessToken) });
    assert.equal(info.status, 200);
    const body = (await info.json()) as Record<string, unknown>;
    assert.equal(body['username'], 'admin');
    assert.equal(body['sub'], decodeJwt(admin.accessToken).sub);
    assert.equal((await fetch(userInfo, { headers: bearer(admin.idToken) })).status, 401, 'an ID token is not one');
    assert.equal((await fetch(userInfo)).status, 401);
    const machine = await fetchToken(issuer.tokenUrl, { id: 'local-client', secret: 'local-client-secret' });
    assert.equal((await fetch(userInfo, { headers: bearer(machine) })).status, 401, 'a machine is nobody');
  });

  it("remembers a person's session until /logout, which ends it and returns to the client's sign-out URL", async () => {
    const { jar, options, cookie } = await readerSignedIn();
    // Signed in: the hosted login does not ask again, so even a wrong password never reaches it.
    await signIn({ ...options, password: 'not-the-password' }, jar);
    const logoutUrl = new URL(issuer.authorizeUrl.replace('/oauth2/authorize', '/logout'));
    logoutUrl.search = new URLSearchParams({ client_id: localWebClientId, logout_uri: redirectUri }).toString();
    const out = await fetch(logoutUrl, { redirect: 'manual', headers: { cookie } });
    assert.equal(out.status, 302);
    assert.equal(out.headers.get('location'), redirectUri);
    await assert.rejects(signIn({ ...options, password: 'not-the-password' }, jar), /incorrect username or password/);
    logoutUrl.searchParams.set('logout_uri', 'https://evil.example/');
    assert.equal((await fetch(logoutUrl, { redirect: 'manual' })).status, 400, 'only a sign-out URL of the client');
  });

  it('ends the session at /logout with redirect_uri and response_type, and asks the person to sign in again', async () => {
    const { jar, options, cookie } = await readerSignedIn();
    const logoutUrl = new URL(issuer.authorizeUrl.replace('/oauth2/authorize', '/logout'));
    const again = { client_id: localWebClientId, redirect_uri: redirectUri, response_type: 'code', state: 'x1' };
    logoutUrl.search = new URLSearchParams(again).toString();
    const out = await fetch(logoutUrl, { redirect: 'manual', headers: { cookie } });
    assert.equal(out.status, 302);
    const location = new URL(out.headers.get('location') ?? '');
    assert.equal(`${location.origin}${location.pathname}`, issuer.authorizeUrl);
    assert.deepEqual(Object.fromEntries(location.searchParams), again);
    await assert.rejects(signIn({ ...options, password: 'not-the-password' }, jar), /incorrect username or password/);
    logoutUrl.searchParams.set('redirect_uri', 'https://evil.example/');
    assert.equal((await fetch(logoutUrl, { redirect: 'manual' })).status, 400, 'only a redirect URI of the client');
  });

  it('refreshes tokens with the refresh token, as Cognito does', async () => {
    const refreshed = await fetch(issuer.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: admin.refreshToken ?? '',
        client_id: localWebClientId,
      }),
    });
    assert.equal(refreshed.status, 200);
    const body = (await refreshed.json()) as { access_token: string; id_token: string };
    assert.equal(decodeJwt(body.access_token)['username'], 'admin');
    assert.notEqual(body.access_token, admin.accessToken);
    assert.equal(decodeJwt(body.id_token)['at_hash'], atHashOf(body.access_token), 'bound to the new access token');
    // RFC 9470 §6.1: auth_time is when the person signed in, not when the token was refreshed (or step-up would pass).
    const signedIn = decodeJwt(admin.accessToken)['auth_time'];
    assert.equal(typeof signedIn, 'number');
    assert.equal(decodeJwt(body.access_token)['auth_time'], signedIn);
    assert.equal(decodeJwt(body.id_token)['auth_time'], signedIn);
  });

  it('requires PKCE (S256) and offers no implicit grant, as discovery says', async () => {
    const discovery = (await (await fetch(`${issuer.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    assert.deepEqual(discovery['code_challenge_methods_supported'], ['S256']);
    assert.ok(!(discovery['response_types_supported'] as string[]).some((type) => type.includes('token')));
    assert.equal(discovery['authorization_endpoint'], issuer.authorizeUrl);
    assert.match(String(discovery['end_session_endpoint']), /\/logout$/);
    assert.match(String(discovery['userinfo_endpoint']), /\/oauth2\/userInfo$/);
    const withoutPkce = new URL(issuer.authorizeUrl);
    withoutPkce.search = new URLSearchParams({
      response_type: 'code',
      client_id: localWebClientId,
      redirect_uri: redirectUri,
      scope: 'openid',
    }).toString();
    const refused = await fetch(withoutPkce, { redirect: 'manual' });
    assert.match(refused.headers.get('location') ?? '', /error=invalid_request/);
  });
});
