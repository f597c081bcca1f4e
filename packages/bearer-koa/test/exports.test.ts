import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as koa from '@product-service/bearer-koa';

describe('the public surface of @product-service/bearer-koa', () => {
  it('exports the middleware, the route access, its rules and the counters, and nothing else at run time', () => {
    assert.deepEqual(Object.keys(koa).sort(), ['access', 'createAuthCounters', 'createBearerAuth', 'declaredRules']);
  });
});
