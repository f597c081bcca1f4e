import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as bearer from '@product-service/bearer';
import * as adapter from '@product-service/bearer/adapter';
import * as defaults from '@product-service/bearer/defaults';

// The public surface is small on purpose (the old src/auth/index.ts exported 44 names, internals among them): what
// a caller needs, nothing it could come to depend on by accident. Changing this list is an API change.
describe('the public surface of @product-service/bearer', () => {
  it('exports the authenticator, the access rules, the issuer profiles and RFC 9728 metadata, and nothing else at run time', () => {
    assert.deepEqual(Object.keys(bearer).sort(), [
      'allOf',
      'authenticatedAccess',
      'claimCheck',
      'claimEquals',
      'claimIncludes',
      'cognito',
      'createAuthenticator',
      'createRoutePolicy',
      'oidc',
      'optionalAccess',
      'protectedResourceMetadata',
      'protectedResourceMetadataPath',
      'protectedResourceMetadataUrl',
      'protectedResourceWellKnown',
      'publicAccess',
      'requireAnyScope',
      'requireGroups',
      'requireScopes',
      'rfc9068',
      'standardClaims',
      'stepUp',
    ]);
  });

  it('has what every adapter shares at ./adapter, and nothing else at run time', () => {
    assert.deepEqual(Object.keys(adapter).sort(), ['createGate', 'settle', 'toAuthRequest']);
  });

  it('has its defaults at ./defaults, frozen', () => {
    assert.deepEqual(Object.keys(defaults).sort(), ['defaults', 'supportedAlgorithms']);
    assert.ok(Object.isFrozen(defaults.defaults) && Object.isFrozen(defaults.defaults.keySet));
    assert.throws(() => {
      (defaults.defaults as { clockToleranceSec: number }).clockToleranceSec = 60;
    }, TypeError);
  });
});
