import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { cognito, oidc, rfc9068 } from '../src/issuers.js';
import { standardClaims } from '../src/index.js';
import { createVerifier, type Verifier } from '../src/verifier.js';
import { outcome, verify } from './support/outcome.js';
import { createTestKey, startTestIssuer, type TestIssuer, type TestKey } from '@product-service/bearer-testing';

// The issuer profiles: each says which rules its tokens follow and how their claims become a principal.
describe('the rfc9068 profile: JWT access tokens (RFC 9068)', () => {
  let jwks: TestIssuer;
  let key: TestKey;
  let verifier: Verifier;

  before(async () => {
    key = await createTestKey();
    jwks = await startTestIssuer({ keys: [key] });
    verifier = createVerifier({
      issuers: [rfc9068({ issuer: jwks.issuer, jwksUri: jwks.jwksUri, audience: ['https://api.example.com'] })],
      tokenCache: false,
    });
  });
  after(() => jwks.close());

  /** RFC 9068 §2.2's claims, all present. */
  const claims = (overrides: Record<string, unknown> = {}): Record<string, unknown> => {
    const now = Math.floor(Date.now() / 1000);
    return {
      iss: jwks.issuer,
      exp: now + 300,
      aud: 'https://api.example.com',
      sub: 'user-7',
      client_id: 's6BhdRkqt3',
      iat: now,
      jti: randomUUID(),
      scope: 'read write',
      groups: ['editors'],
      ...overrides,
    };
  };
  const sign = (c: Record<string, unknown>, typ: string | null = 'at+jwt') =>
    jwks.sign(key, c, typ === null ? {} : { typ });

  it('accepts an access token with typ at+jwt and every claim of §2.2, mapped to a principal (§2.2.3)', async () => {
    const principal = await verify(verifier, await sign(claims()));
    assert.equal(principal.subject, 'user-7');
    assert.equal(principal.clientId, 's6BhdRkqt3');
    assert.deepEqual(principal.scopes, ['read', 'write']);
    assert.deepEqual(principal.groups, ['editors']);
    assert.equal(principal.tokenUse, undefined);
    // RFC 8725 §3.11 / RFC 9068 §4: `application/at+jwt` is the same media type.
    assert.equal(await outcome(verifier, await sign(claims(), 'application/at+jwt')), 'accepted');
  });

  it('refuses a token without typ, or with typ JWT: an ID token must not pass for an access token (RFC 9068 §4)', async () => {
    assert.equal(await outcome(verifier, await sign(claims(), null)), 'wrong_type');
    assert.equal(await outcome(verifier, await sign(claims(), 'JWT')), 'wrong_type');
  });

  for (const claim of ['exp', 'sub', 'client_id', 'iat', 'jti']) {
    it(`refuses a token without ${claim} (RFC 9068 §2.2)`, async () => {
      const { [claim]: _dropped, ...rest } = claims();
      assert.equal(await outcome(verifier, await sign(rest)), 'claims_invalid');
    });
  }

  it('refuses a token without aud, or for another resource (RFC 9068 §2.2, §4)', async () => {
    const { aud: _aud, ...rest } = claims();
    assert.equal(await outcome(verifier, await sign(rest)), 'wrong_audience');
    assert.equal(await outcome(verifier, await sign(claims({ aud: 'https://other.example.com' }))), 'wrong_audience');
  });

  it('cannot be configured without an audience (RFC 9068 §4: the resource server must check aud)', () => {
    assert.throws(() => rfc9068({ issuer: jwks.issuer, audience: [] }), /audience is required/);
  });
});

// As aws-jwt-verify's should-not-compile tests: what a profile cannot do without is required by its type (tsc --noEmit
// checks these lines in `npm test`) and again at construction, for JavaScript callers.
describe('what the profiles require', () => {
  it('refuses a Cognito pool without clientIds, by type and at construction (null accepts any client)', () => {
    // @ts-expect-error: clientIds is required
    assert.throws(() => cognito({ userPoolId: 'us-east-1_AbC123' }), /clientIds is required/);
    assert.equal(cognito({ userPoolId: 'us-east-1_AbC123', clientIds: null }).jwks, undefined);
  });

  it('refuses an rfc9068 issuer without an audience, by type and at construction', () => {
    // @ts-expect-error: audience is required
    assert.throws(() => rfc9068({ issuer: 'https://issuer.example' }));
  });
});

describe('the oidc profile with a claims mapper of its own', () => {
  let jwks: TestIssuer;
  let key: TestKey;

  before(async () => {
    key = await createTestKey();
    jwks = await startTestIssuer({ keys: [key] });
  });
  after(() => jwks.close());

  const now = () => Math.floor(Date.now() / 1000);

  it('maps an issuer’s own claim names (Azure-style scp and roles) to the principal', async () => {
    const verifier = createVerifier({
      issuers: [
        oidc({
          issuer: jwks.issuer,
          jwksUri: jwks.jwksUri,
          claims: (c) => ({
            subject: typeof c['oid'] === 'string' ? c['oid'] : '',
            clientId: typeof c['azp'] === 'string' ? c['azp'] : undefined,
            scopes: typeof c['scp'] === 'string' ? c['scp'].split(' ') : [],
            groups: Array.isArray(c['roles']) ? c['roles'].map(String) : [],
          }),
        }),
      ],
    });
    const token = await jwks.sign(key, {
      iss: jwks.issuer,
      exp: now() + 60,
      sub: 'pairwise-subject',
      oid: 'object-id-1',
      azp: 'app-1',
      scp: 'items.read items.write',
      roles: ['Admin'],
    });
    const principal = await verify(verifier, token);
    assert.deepEqual(
      { ...principal, claims: undefined, expiresAt: undefined },
      {
        subject: 'object-id-1',
        clientId: 'app-1',
        scopes: ['items.read', 'items.write'],
        groups: ['Admin'],
        username: undefined,
        issuer: jwks.issuer,
        tokenUse: undefined,
        expiresAt: undefined,
        claims: undefined,
      },
    );
  });

  it('refuses with the reason the mapper returns, and refuses an empty subject whatever the mapper says', async () => {
    const refusing = createVerifier({
      issuers: [oidc({ issuer: jwks.issuer, jwksUri: jwks.jwksUri, claims: () => 'client_not_allowed' })],
    });
    const token = await jwks.sign(key, { iss: jwks.issuer, exp: now() + 60, sub: 'x' });
    assert.equal(await outcome(refusing, token), 'client_not_allowed');
    const blank = createVerifier({
      issuers: [oidc({ issuer: jwks.issuer, jwksUri: jwks.jwksUri, claims: () => ({ subject: '' }) })],
    });
    assert.equal(await outcome(blank, token), 'claims_invalid');
  });

  it('maps sub, client_id, scope, groups and preferred_username by default, and refuses a claim of the wrong type', async () => {
    const verifier = createVerifier({ issuers: [oidc({ issuer: jwks.issuer, jwksUri: jwks.jwksUri })] });
    const base = { iss: jwks.issuer, exp: now() + 60, sub: 'u-1', client_id: 'c-1', scope: 'a b' };
    const principal = await verify(
      verifier,
      await jwks.sign(key, { ...base, groups: ['g'], preferred_username: 'ada' }),
    );
    assert.deepEqual(
      [principal.clientId, principal.scopes, principal.groups, principal.username],
      ['c-1', ['a', 'b'], ['g'], 'ada'],
    );
    assert.equal(await outcome(verifier, await jwks.sign(key, { ...base, groups: 'g' })), 'claims_invalid');
    assert.equal(await outcome(verifier, await jwks.sign(key, { ...base, scope: ['a'] })), 'claims_invalid');
  });
});

describe('standardClaims: the profiles’ own mapping, pointed at other claim names', () => {
  const mapper = standardClaims({
    clientId: ['client_id'],
    groups: 'cognito:groups',
    username: ['username', 'cognito:username'],
  });

  it('reads the client, the groups and a person’s name where it is told to', () => {
    assert.deepEqual(
      mapper({ sub: 's-1', client_id: 'c-1', scope: 'a b', 'cognito:groups': ['admins'], 'cognito:username': 'ann' }),
      { subject: 's-1', clientId: 'c-1', scopes: ['a', 'b'], groups: ['admins'], username: 'ann' },
    );
  });

  it('refuses a name or groups of the wrong shape rather than treating the person as a machine', () => {
    assert.equal(mapper({ sub: 's-1', username: 42 }), 'claims_invalid');
    assert.equal(mapper({ sub: 's-1', 'cognito:groups': 'admins' }), 'claims_invalid');
    assert.equal(mapper({ sub: '' }), 'claims_invalid');
  });
});
