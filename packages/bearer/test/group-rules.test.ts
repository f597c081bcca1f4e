import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  allOf,
  cognito,
  createAuthenticator,
  optionalAccess,
  protectedResourceMetadata,
  publicAccess,
  requireAnyScope,
  requireGroups,
  requireScopes,
  stepUp,
  type Access,
  type Authenticator,
  type GroupAlternatives,
  type GroupRule,
} from '../src/index.js';
import { createTestKey, startTestIssuer, type TestIssuer } from '@product-service/bearer-testing';
import { bearer } from './support/requests.js';

// A group rule says who passes, and nothing else does: a caller outside the groups is refused, a machine client
// (which has no groups) included, unless the rule itself names another way in. The adopter trial found the old
// helper (`forPeopleInGroups(authenticatedAccess, 'admins')`) admitting a machine token with no groups at all.
describe('group rules: who passes', () => {
  let issuer: TestIssuer;
  let auth: Authenticator;

  before(async () => {
    issuer = await startTestIssuer({ keys: [await createTestKey()] });
    auth = createAuthenticator({ issuers: [cognito(issuer.cognitoProfile())], realm: 'items' });
    await auth.warmUp();
  });
  after(() => issuer.close());

  const machine = (scope: string) => issuer.cognitoAccessToken({ scope });
  const person = (groups: readonly string[], scope = 'items/read') =>
    issuer.cognitoAccessToken({ username: 'ada', 'cognito:groups': [...groups], scope });

  /** 'admitted', or the refusal's status, reason and description. */
  async function answer(access: Access, token: string): Promise<string> {
    const outcome = await auth.authenticate({ method: 'GET', path: '/', headers: bearer(token) }, access);
    if (!('refusal' in outcome)) return 'admitted';
    const { status, reason, body } = outcome.refusal;
    return `${status} ${reason}: ${body.error_description}`;
  }

  it('refuses a machine token outside the groups: it has none, and the rule names no other way in', async () => {
    assert.equal(
      await answer(requireGroups('admins'), await machine('items/read items/write')),
      '403 group_not_allowed: token lacks the required group: one of admins',
    );
  });

  it('admits a person in one of the groups, and refuses one in none', async () => {
    const rule = requireGroups(['admins', 'editors']);
    assert.equal(await answer(rule, await person(['users', 'editors'])), 'admitted');
    assert.equal(
      await answer(rule, await person(['users'])),
      '403 group_not_allowed: token lacks the required group: one of admins, editors',
    );
  });

  it('orScopes: admits anyone granting every one of the scopes, person or machine', async () => {
    const rule = requireGroups('admins', { orScopes: ['reports/read', 'reports/export'] });
    assert.equal(await answer(rule, await machine('reports/read reports/export')), 'admitted');
    assert.equal(await answer(rule, await person([], 'reports/read reports/export')), 'admitted');
    assert.equal(
      await answer(rule, await machine('reports/read')),
      '403 group_not_allowed: token lacks the required group: one of admins, or the scope reports/read reports/export',
    );
  });

  it('orMachinesWithScopes: admits a machine client granting the scopes, never a person outside the groups', async () => {
    const rule = requireGroups('admins', { orMachinesWithScopes: ['items/sync'] });
    assert.equal(await answer(rule, await machine('items/sync')), 'admitted');
    assert.equal(
      await answer(rule, await person(['users'], 'items/sync')),
      '403 group_not_allowed: token lacks the required group: one of admins, or as a machine client the scope items/sync',
    );
    assert.equal(await answer(rule, await person(['admins'], 'items/read')), 'admitted');
  });

  // The service's rule for changing products (src/products/routes.ts), case by case.
  it('allOf(scope, group rule): the scope for everyone, the group for people, the scope for machines', async () => {
    const write = allOf(
      requireScopes('products/write'),
      requireGroups('catalog-admins', { orMachinesWithScopes: ['products/write'] }),
    );
    const cases: [string, string, string][] = [
      ['a machine with products/write', await machine('products/write'), 'admitted'],
      [
        'a machine without it',
        await machine('products/read'),
        '403 insufficient_scope: token lacks the required scope',
      ],
      ['a person in the group with the scope', await person(['catalog-admins'], 'products/write'), 'admitted'],
      [
        'a person in the group without the scope',
        await person(['catalog-admins'], 'products/read'),
        '403 insufficient_scope: token lacks the required scope',
      ],
      [
        'a person with the scope outside the group',
        await person([], 'products/write'),
        '403 group_not_allowed: token lacks the required group: one of catalog-admins, or as a machine client the scope products/write',
      ],
    ];
    for (const [who, token, expected] of cases) assert.equal(await answer(write, token), expected, who);
  });

  it('fails closed on a rule written by hand that the types would refuse (JavaScript, or a cast)', async () => {
    const token = await person(['admins'], 'items/read');
    const old = { kind: 'authenticated', groups: ['admins'] as unknown as GroupRule } as const;
    assert.match(await answer(old, token), /^403 group_not_allowed/, 'the old shape, a bare list: nobody passes');
    const vacuous = { kind: 'authenticated', groups: { anyOf: ['nobody'], orScopes: [] } } as const;
    assert.match(await answer(vacuous, token), /^403/, 'an empty way in is no way in');
  });
});

describe('group rules: made once, checked at construction', () => {
  it('takes one group or a list, and names no way in unless given one', () => {
    assert.deepEqual(requireGroups('admins'), { kind: 'authenticated', groups: { anyOf: ['admins'] } });
    assert.deepEqual(requireGroups(['a', 'b'], { orScopes: ['s'] }), {
      kind: 'authenticated',
      groups: { anyOf: ['a', 'b'], orScopes: ['s'] },
    });
    const rule = requireGroups('admins', { orMachinesWithScopes: ['x'] });
    assert.ok(Object.isFrozen(rule) && rule.kind === 'authenticated' && Object.isFrozen(rule.groups));
  });

  it('refuses a rule that names no group, an empty way in, or a way in it does not know', () => {
    assert.throws(() => requireGroups([]), /name at least one group/);
    assert.throws(() => requireGroups(''), /name at least one group/);
    assert.throws(() => requireGroups('admins', { orScopes: [] }), /orScopes must name scopes/);
    assert.throws(() => requireGroups('admins', { orMachinesWithScopes: [''] }), /orMachinesWithScopes must name/);
    // A misspelt or invented option would leave the rule other than it reads: refused, naming the ones there are.
    for (const option of ['orScope', 'forPeople', 'machines']) {
      const alternatives = { [option]: ['x'] } as GroupAlternatives;
      assert.throws(() => requireGroups('admins', alternatives), /unknown option .*orScopes, orMachinesWithScopes/);
    }
  });

  it('allOf joins all-of scopes and keeps one group rule and one step-up rule', () => {
    const rule = allOf(
      requireScopes('a'),
      requireScopes('b', 'a'),
      requireGroups('g'),
      stepUp(requireScopes('c'), { maxAgeSec: 60 }),
    );
    assert.deepEqual(rule, {
      kind: 'authenticated',
      scopes: { allOf: ['a', 'b', 'c'] },
      groups: { anyOf: ['g'] },
      stepUp: { maxAgeSec: 60 },
    });
    assert.deepEqual(allOf(requireAnyScope('a', 'b'), requireGroups('g')), {
      kind: 'authenticated',
      scopes: { anyOf: ['a', 'b'] },
      groups: { anyOf: ['g'] },
    });
  });

  it('allOf refuses what it could only guess at: two group rules, any-of beside other scopes, open access', () => {
    assert.throws(() => allOf(requireGroups('a'), requireGroups('b')), /one group rule at most/);
    assert.throws(() => allOf(requireAnyScope('a', 'b'), requireScopes('c')), /requireAnyScope cannot be combined/);
    const twice = stepUp(requireScopes('a'), { maxAgeSec: 1 });
    assert.throws(() => allOf(twice, twice), /one step-up rule at most/);
    assert.throws(() => allOf(publicAccess, requireGroups('a')), /only authenticated/);
    assert.throws(() => allOf(optionalAccess), /only authenticated/);
  });

  it("lists a rule's other ways in among the scopes its resource supports (RFC 9728 §2)", () => {
    const document = protectedResourceMetadata({
      resource: 'https://api.example.com',
      policy: {
        rules: [
          { method: 'GET', path: '/reports', access: requireGroups('admins', { orScopes: ['reports/read'] }) },
          {
            method: 'POST',
            path: '/sync',
            access: allOf(
              requireScopes('items/write'),
              requireGroups('admins', { orMachinesWithScopes: ['items/sync'] }),
            ),
          },
        ],
      },
    });
    assert.deepEqual(document.scopes_supported, ['items/sync', 'items/write', 'reports/read']);
  });
});
