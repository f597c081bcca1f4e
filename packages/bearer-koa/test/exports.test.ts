import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as koa from '@product-service/bearer-koa';

describe('the public surface of @product-service/bearer-koa', () => {
  it('exports the middleware and its counters, and nothing else at run time', () => {
    assert.deepEqual(Object.keys(koa).sort(), ['createAuthCounters', 'createBearerAuth']);
  });
});
