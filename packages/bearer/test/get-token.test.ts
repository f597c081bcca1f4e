import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cognito, createAuthenticator, type AuthRequest, type Authenticator, type Outcome } from '../src/index.js';
import { createTestKey, startTestIssuer, type TestIssuer } from '@product-service/bearer-testing';
import { bearer } from './support/requests.js';

/** The `session` cookie's value, as an app would read it (the cookie header: RFC 6265 §4.2). */
function sessionCookie(request: AuthRequest): string | undefined {
  const cookie = request.headers['cookie'];
  if (typeof cookie !== 'string') return undefined;
  for (const pair of cookie.split(/; */)) {
    const [name, value] = pair.split('=', 2);
    if (name === 'session' && value !== undefined) return value;
  }
  return undefined;
}

function summary(outcome: Outcome): string {
  return 'refusal' in outcome ? `${outcome.refusal.status} ${outcome.refusal.reason}` : 'admitted';
}

// getToken: the token from elsewhere (a cookie), as express-oauth2-jwt-bearer's internal getToken reads it from the
// header, the query or the body. Ours keeps the header as the default and refuses a query token whatever getToken says.
describe('getToken: a token from elsewhere', () => {
  let issuer: TestIssuer;
  let withCookie: Authenticator;
  let plain: Authenticator;
  let token: string;

  before(async () => {
    issuer = await startTestIssuer({ keys: [await createTestKey()] });
    const issuers = [cognito(issuer.cognitoProfile())];
    withCookie = createAuthenticator({ issuers, getToken: sessionCookie });
    plain = createAuthenticator({ issuers });
    await Promise.all([withCookie.warmUp(), plain.warmUp()]);
    token = await issuer.cognitoAccessToken();
  });
  after(() => issuer.close());

  const check = async (auth: Authenticator, headers: AuthRequest['headers'], query = '') =>
    summary(await auth.authenticate({ method: 'GET', path: '/', headers, query }));

  it('admits a valid token from the cookie, and hands the adapter the token it verified', async () => {
    const outcome = await withCookie.authenticate({
      method: 'GET',
      path: '/',
      headers: { cookie: `session=${token}` },
    });
    assert.equal(summary(outcome), 'admitted');
    assert.equal('token' in outcome && outcome.token, token);
    // Negative control: without getToken, the cookie is not a credential.
    assert.equal(await check(plain, { cookie: `session=${token}` }), '401 missing');
  });

  it('verifies a cookie token as a header token: a bad one is refused 401 invalid_token', async () => {
    const forged = `${token.slice(0, -4)}AAAA`;
    assert.equal(await check(withCookie, { cookie: `session=${forged}` }), '401 bad_signature');
    assert.equal(await check(withCookie, { cookie: 'session=not-a-jwt' }), '401 malformed_token');
  });

  it('still reads the Authorization header when getToken finds nothing: the header stays the default', async () => {
    assert.equal(await check(withCookie, bearer(token)), 'admitted');
    assert.equal(await check(withCookie, {}), '401 missing');
  });

  it('refuses a cookie and a header together with 400 (RFC 6750 §2: one method per request)', async () => {
    assert.equal(await check(withCookie, { ...bearer(token), cookie: `session=${token}` }), '400 malformed');
  });

  it('refuses a token in the query string whatever getToken returns (RFC 6750 §2.3)', async () => {
    assert.equal(await check(withCookie, { cookie: `session=${token}` }, `access_token=${token}`), '400 malformed');
    const fromQuery = createAuthenticator({
      issuers: [cognito(issuer.cognitoProfile())],
      getToken: (request) => new URLSearchParams(request.query).get('access_token') ?? undefined,
    });
    assert.equal(await check(fromQuery, {}, `access_token=${token}`), '400 malformed');
  });

  it('refuses what a JavaScript getToken returns that is not a token: an empty string, a number', async () => {
    const empty = createAuthenticator({ issuers: [cognito(issuer.cognitoProfile())], getToken: () => '' });
    assert.equal(await check(empty, {}), '400 malformed');
    const numeric = createAuthenticator({
      issuers: [cognito(issuer.cognitoProfile())],
      getToken: (() => 42) as unknown as () => string,
    });
    assert.equal(await check(numeric, {}), '400 malformed');
  });
});
