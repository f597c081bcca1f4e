import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cognito } from '../src/issuers.js';
import { createVerifier, type Verifier } from '../src/verifier.js';
import { verify } from './support/outcome.js';
import {
  cognitoAccessClaims,
  createTestKey,
  startTestIssuer,
  type TestIssuer,
  type TestKey,
} from '@product-service/bearer-testing';

describe('several issuers at once', () => {
  let poolA: TestIssuer;
  let poolB: TestIssuer;
  let keyA: TestKey;
  let keyB: TestKey;
  let verifier: Verifier;

  before(async () => {
    keyA = await createTestKey();
    keyB = await createTestKey();
    poolA = await startTestIssuer({ userPoolId: 'local_PoolA', keys: [keyA] });
    poolB = await startTestIssuer({ userPoolId: 'local_PoolB', keys: [keyB] });
    verifier = createVerifier({
      issuers: [
        cognito(poolA.cognitoProfile()),
        // An OIDC issuer beside the pool, found through discovery and with an audience of its own.
        { issuer: poolB.issuer, audience: ['product-api'] },
      ],
    });
    await verifier.warmUp();
  });
  after(async () => {
    await poolA.close();
    await poolB.close();
  });

  it('accepts each issuer’s tokens, checked by that issuer’s own rules', async () => {
    assert.equal((await verify(verifier, await poolA.sign(keyA))).issuer, poolA.issuer);
    const oidcToken = await poolB.sign(keyB, { sub: 'user-1', iss: poolB.issuer, aud: 'product-api', exp: 4102444800 });
    const principal = await verify(verifier, oidcToken);
    assert.equal(principal.issuer, poolB.issuer);
    assert.equal(principal.tokenUse, undefined);
  });

  it('never lets one issuer’s key vouch for another issuer’s token', async () => {
    const crossed = await poolA.sign(keyB, cognitoAccessClaims(poolA.issuer));
    await assert.rejects(verify(verifier, crossed), { reason: 'unknown_kid' });
    const crossedBack = await poolB.sign(keyA, { sub: 'x', iss: poolB.issuer, aud: 'product-api', exp: 4102444800 });
    await assert.rejects(verify(verifier, crossedBack), { reason: 'unknown_kid' });
  });

  it('accepts Cognito’s two issuer forms for one pool, with keys from the pool’s own JWKS', async () => {
    const config = cognito({ userPoolId: 'us-east-1_AbC123', clientIds: null });
    assert.equal(config.issuer, 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123');
    assert.deepEqual(config.alternateIssuers, ['https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123']);
    assert.equal(config.jwksUri, 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123/.well-known/jwks.json');
    // The same mechanism, run for real against the local pool: a second accepted iss, one key set.
    const alternate = `${poolA.baseUrl}/alternate/${poolA.userPoolId}`;
    const both = createVerifier({
      issuers: [{ ...cognito(poolA.cognitoProfile()), alternateIssuers: [alternate] }],
    });
    assert.equal((await verify(both, await poolA.sign(keyA, cognitoAccessClaims(alternate)))).issuer, poolA.issuer);
    await assert.rejects(verify(both, await poolA.sign(keyA, cognitoAccessClaims(`${alternate}x`))), {
      reason: 'wrong_issuer',
    });
  });

  it('refuses to configure the same issuer twice', () => {
    const config = cognito(poolA.cognitoProfile());
    assert.throws(() => createVerifier({ issuers: [config, config] }), /configured twice/);
  });
});
