import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  allOf,
  cognito,
  createAuthenticator,
  createRoutePolicy,
  optionalAccess,
  publicAccess,
  requireGroups,
  requireScopes,
  stepUp,
  type Authenticator,
  type AuthRequest,
  type Outcome,
} from '../src/index.js';
import { bearer } from './support/requests.js';
import { refusalOf } from './support/outcome.js';
import {
  cognitoAccessClaims,
  createTestKey,
  createTestClock,
  startTestIssuer,
  type TestIssuer,
  type TestClock,
  type TestKey,
} from '@product-service/bearer-testing';

const del = (path: string, headers: AuthRequest['headers'] = {}): AuthRequest => ({ method: 'DELETE', path, headers });

async function admitted(outcome: Outcome | Promise<Outcome>): Promise<void> {
  const settled = await outcome;
  assert.ok(!('refusal' in settled), `admitted, not refused as ${JSON.stringify(settled)}`);
}

// RFC 9470: a route may ask how recent (max_age, from auth_time) and how strong (acr_values, from acr) the sign-in
// behind a token is; a token that falls short is 401 insufficient_user_authentication, saying what would do.
describe('step-up authentication (RFC 9470)', () => {
  let jwks: TestIssuer;
  let key: TestKey;
  let clock: TestClock;
  let auth: Authenticator;
  const person = { username: 'alice', sub: 'alice-sub' };

  before(async () => {
    jwks = await startTestIssuer({ keys: [] });
    key = await createTestKey();
    jwks.publish([key]);
    clock = createTestClock();
    auth = createAuthenticator({
      issuers: [cognito(jwks.cognitoProfile())],
      realm: 'items',
      now: clock.now,
      policy: createRoutePolicy([
        {
          method: 'DELETE',
          path: '/recent',
          access: stepUp(requireScopes('items/write'), { maxAgeSec: 300, peopleOnly: true }),
        },
        {
          method: 'DELETE',
          path: '/strong',
          access: stepUp(requireScopes('items/write'), { acrValues: ['mfa', 'hwk'] }),
        },
        {
          method: 'DELETE',
          path: '/both',
          access: stepUp(requireScopes('items/write'), { maxAgeSec: 60, acrValues: ['mfa'] }),
        },
        { method: 'DELETE', path: '/everyone', access: stepUp(requireScopes('items/write'), { maxAgeSec: 300 }) },
      ]),
    });
    await auth.warmUp();
  });
  after(() => jwks.close());

  const nowSec = () => Math.floor(clock.now() / 1000);
  const token = (claims: Record<string, unknown>) =>
    jwks.sign(key, cognitoAccessClaims(jwks.issuer, { scope: 'items/write', iat: nowSec(), ...claims }));

  it('admits a person who signed in within max_age', async () => {
    await admitted(auth.authenticate(del('/recent', bearer(await token({ ...person, auth_time: nowSec() - 300 })))));
  });

  it('refuses a person whose auth_time is older than max_age: 401 insufficient_user_authentication, max_age (RFC 9470 §3)', async () => {
    const refusal = await refusalOf(
      auth.authenticate(del('/recent', bearer(await token({ ...person, auth_time: nowSec() - 301 })))),
    );
    assert.deepEqual(refusal, {
      reason: 'insufficient_user_authentication',
      status: 401,
      headers: {
        'Cache-Control': 'no-store',
        'WWW-Authenticate':
          'Bearer realm="items", error="insufficient_user_authentication", ' +
          'error_description="a more recent or stronger authentication is required", max_age="300"',
      },
      body: {
        error: 'insufficient_user_authentication',
        error_description: 'a more recent or stronger authentication is required',
      },
    });
  });

  it('refuses a person whose token has no auth_time, or one that is not a number, when max_age is asked', async () => {
    for (const authTime of [undefined, String(nowSec())]) {
      const refusal = await refusalOf(
        auth.authenticate(del('/recent', bearer(await token({ ...person, auth_time: authTime })))),
      );
      assert.equal(refusal.reason, 'insufficient_user_authentication');
    }
  });

  it('measures the age at each request, not when the token was first verified (a remembered token ages too)', async () => {
    const t = await token({ ...person, auth_time: nowSec() });
    await admitted(auth.authenticate(del('/recent', bearer(t))));
    clock.advance(301_000);
    assert.equal((await refusalOf(auth.authenticate(del('/recent', bearer(t))))).status, 401);
  });

  it('does not ask a machine client (no username) under peopleOnly; asks it without', async () => {
    const machine = await token({ auth_time: nowSec() - 86_400 });
    await admitted(auth.authenticate(del('/recent', bearer(machine))));
    assert.equal((await refusalOf(auth.authenticate(del('/everyone', bearer(machine))))).status, 401);
  });

  it('refuses an acr not among acr_values, or none, naming them in order of preference (RFC 9470 §3)', async () => {
    await admitted(auth.authenticate(del('/strong', bearer(await token({ acr: 'hwk' })))));
    for (const acr of ['pwd', undefined]) {
      const refusal = await refusalOf(auth.authenticate(del('/strong', bearer(await token({ acr })))));
      assert.equal(
        refusal.headers['WWW-Authenticate'],
        'Bearer realm="items", error="insufficient_user_authentication", ' +
          'error_description="a more recent or stronger authentication is required", acr_values="mfa hwk"',
      );
    }
  });

  it('names the whole rule when one part fails, so that the next token meets all of it', async () => {
    const refusal = await refusalOf(
      auth.authenticate(del('/both', bearer(await token({ acr: 'mfa', auth_time: nowSec() - 61 })))),
    );
    assert.match(refusal.headers['WWW-Authenticate'] ?? '', /, max_age="60", acr_values="mfa"$/);
    await admitted(auth.authenticate(del('/both', bearer(await token({ acr: 'mfa', auth_time: nowSec() - 60 })))));
  });

  it('answers a missing scope first (403): nobody signs in again for a token that would still be refused', async () => {
    const t = await token({ ...person, scope: 'items/read', auth_time: nowSec() - 3600 });
    const refusal = await refusalOf(auth.authenticate(del('/recent', bearer(t))));
    assert.deepEqual([refusal.status, refusal.reason], [403, 'insufficient_scope']);
  });

  it('keeps the rule through allOf with a group rule, and is checked at construction', () => {
    const rule = allOf(stepUp(requireScopes('x'), { maxAgeSec: 5 }), requireGroups('admins'));
    assert.ok(rule.kind === 'authenticated' && rule.stepUp?.maxAgeSec === 5 && rule.groups?.anyOf[0] === 'admins');
    assert.throws(() => stepUp(publicAccess, { maxAgeSec: 5 }), TypeError);
    assert.throws(() => stepUp(optionalAccess, { maxAgeSec: 5 }), TypeError);
    assert.throws(() => stepUp(requireScopes('x'), {}), TypeError);
    assert.throws(() => stepUp(requireScopes('x'), { maxAgeSec: -1 }), TypeError);
    assert.throws(() => stepUp(requireScopes('x'), { maxAgeSec: 1.5 }), TypeError);
    assert.throws(() => stepUp(requireScopes('x'), { acrValues: [] }), TypeError);
    assert.throws(() => stepUp(requireScopes('x'), { acrValues: ['a b'] }), TypeError, 'a space would split it');
    assert.throws(() => stepUp(requireScopes('x'), { acrValues: ['a"'] }), TypeError, 'a quote would end it');
  });
});
