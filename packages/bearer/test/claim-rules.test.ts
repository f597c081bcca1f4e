import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  allOf,
  claimCheck,
  claimEquals,
  claimIncludes,
  cognito,
  createAuthenticator,
  requireScopes,
  type Access,
  type Authenticator,
} from '../src/index.js';
import { createTestKey, startTestIssuer, type TestIssuer } from '@product-service/bearer-testing';
import { bearer } from './support/requests.js';

// Per-route claim checks, as express-oauth2-jwt-bearer 1.10 has them (claimEquals, claimIncludes, claimCheck in its
// dist/index.js): same comparisons, same answer (401 invalid_token), but core access rules that every adapter uses.
describe('claim rules: claimEquals, claimIncludes, claimCheck', () => {
  let issuer: TestIssuer;
  let auth: Authenticator;

  before(async () => {
    issuer = await startTestIssuer({ keys: [await createTestKey()] });
    auth = createAuthenticator({ issuers: [cognito(issuer.cognitoProfile())], realm: 'items' });
    await auth.warmUp();
  });
  after(() => issuer.close());

  const token = (claims: Record<string, unknown>) => issuer.cognitoAccessToken({ scope: 'items/read', ...claims });

  /** 'admitted', or the refusal's status, challenge and body description. */
  async function answer(access: Access, claims: Record<string, unknown>): Promise<string> {
    const outcome = await auth.authenticate({ method: 'GET', path: '/', headers: bearer(await token(claims)) }, access);
    if (!('refusal' in outcome)) return 'admitted';
    const { status, reason, body, headers } = outcome.refusal;
    assert.match(
      headers['WWW-Authenticate'] ?? '',
      /^Bearer realm="items", error="invalid_token", error_description="/,
    );
    return `${status} ${reason}: ${body.error_description}`;
  }

  it('claimEquals: admits the exact value and refuses 401 invalid_token otherwise, naming the claim, never the value', async () => {
    const rule = claimEquals('org_id', 'org_42');
    assert.equal(await answer(rule, { org_id: 'org_42' }), 'admitted');
    const refused = "401 claim_check_failed: token claims not accepted: unexpected 'org_id' value";
    assert.equal(await answer(rule, { org_id: 'org_7' }), refused);
    assert.equal(await answer(rule, {}), refused);
  });

  it('claimEquals compares strictly: the string "1" is not the number 1, and false is not absent', async () => {
    assert.match(await answer(claimEquals('tier', 1), { tier: '1' }), /^401 claim_check_failed/);
    assert.equal(await answer(claimEquals('tier', 1), { tier: 1 }), 'admitted');
    assert.equal(await answer(claimEquals('beta', false), { beta: false }), 'admitted');
    assert.match(await answer(claimEquals('beta', false), {}), /^401 claim_check_failed/);
  });

  it('claimIncludes: every value, in an array claim or a space-separated string claim', async () => {
    const rule = claimIncludes('amr', 'pwd', 'mfa');
    assert.equal(await answer(rule, { amr: ['mfa', 'pwd', 'hwk'] }), 'admitted');
    assert.equal(await answer(rule, { amr: 'pwd mfa' }), 'admitted');
    assert.match(await answer(rule, { amr: ['pwd'] }), /^401 claim_check_failed: .*unexpected 'amr' value$/);
    assert.match(await answer(rule, { amr: { pwd: true, mfa: true } }), /^401 claim_check_failed/);
    assert.match(await answer(rule, {}), /^401 claim_check_failed/);
  });

  it('claimCheck: admits when the function returns true, and refuses with its description otherwise', async () => {
    const rule = claimCheck((claims) => claims['tenant'] === 'acme', 'tenant acme only');
    assert.equal(await answer(rule, { tenant: 'acme' }), 'admitted');
    assert.equal(
      await answer(rule, { tenant: 'other' }),
      '401 claim_check_failed: token claims not accepted: tenant acme only',
    );
  });

  it('fails closed: a check that throws, or returns a truthy non-boolean (a promise), refuses the token', async () => {
    const throws = claimCheck((claims) => (claims['org'] as { id: string }).id === 'x');
    assert.equal(
      await answer(throws, {}),
      '401 claim_check_failed: token claims not accepted: token claims not accepted',
    );
    const promised = claimCheck((() => Promise.resolve(true)) as unknown as () => boolean);
    assert.match(await answer(promised, {}), /^401 claim_check_failed/);
  });

  it('composes with allOf: every claim check and the scopes apply; a failed claim check is said before a scope', async () => {
    const rule = allOf(requireScopes('items/write'), claimEquals('org_id', 'org_42'), claimIncludes('amr', 'mfa'));
    assert.equal(await answer(rule, { scope: 'items/write', org_id: 'org_42', amr: ['mfa'] }), 'admitted');
    assert.match(await answer(rule, { scope: 'items/write', org_id: 'org_42' }), /unexpected 'amr' value$/);
    assert.match(await answer(rule, { org_id: 'org_7', amr: ['mfa'] }), /unexpected 'org_id' value$/);
    const scopeOnly = await auth.authenticate(
      { method: 'GET', path: '/', headers: bearer(await token({ org_id: 'org_42', amr: ['mfa'] })) },
      rule,
    );
    assert.ok('refusal' in scopeOnly && scopeOnly.refusal.status === 403);
  });

  it('refuses rules that could never hold or would break the challenge, when they are built', () => {
    assert.throws(() => claimEquals('', 'x'), TypeError);
    assert.throws(() => claimEquals('org', { id: 1 } as unknown as string), TypeError);
    assert.throws(() => claimIncludes('amr'), TypeError);
    assert.throws(() => claimIncludes('amr', ['mfa'] as unknown as string), TypeError);
    assert.throws(() => claimCheck('yes' as unknown as () => boolean), TypeError);
    // RFC 6750 §3: error_description has no '"', '\' or characters outside printable ASCII.
    assert.throws(() => claimCheck(() => true, 'say "no"'), TypeError);
    assert.throws(() => claimEquals('größe', 1), TypeError);
  });
});
