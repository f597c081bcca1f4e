import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as testing from '@product-service/bearer-testing';

describe('the public surface of @product-service/bearer-testing', () => {
  it('exports the fake issuer, keys, claim sets, DPoP keys and the clock, and nothing else at run time', () => {
    assert.deepEqual(Object.keys(testing).sort(), [
      'cognitoAccessClaims',
      'cognitoIdClaims',
      'createDpopKey',
      'createTestClock',
      'createTestKey',
      'personSubject',
      'rfc9068Claims',
      'startTestIssuer',
    ]);
  });
});
