import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Config } from '../src/config.js';
import { localClientConfig, startLocalDynamo, type LocalDynamo } from '../src/local/dynamodb.js';
import { cognito } from '@product-service/bearer';
import {
  cognitoAccessClaims,
  createTestKey,
  startTestIssuer,
  type TestIssuer,
  type TestKey,
} from '@product-service/bearer-testing';
import { bearer, configTrusting, startService, type RunningService } from './support/service.js';

const valid = { name: 'Trek Fuel EX', imageURL: 'https://images.example.com/fuel-ex.png' };

// RFC 9470 §3 on DELETE /products/:id: with STEP_UP_MAX_AGE_SECONDS set, a person must have signed in recently to
// delete; a machine client (client_credentials, no username) has no sign-in to renew and is not asked.
describe('step-up for people deleting products (RFC 9470)', () => {
  let jwks: TestIssuer;
  let key: TestKey;
  let dynamo: LocalDynamo;
  let client: DynamoDBClient;
  let base: Config;

  before(async () => {
    jwks = await startTestIssuer({ userPoolId: 'local_StepUp', keys: [] });
    key = await createTestKey();
    jwks.publish([key]);
    base = configTrusting([cognito(jwks.cognitoProfile())]);
    dynamo = await startLocalDynamo({ products: base.products.table, snapshots: base.products.snapshotsTable });
    client = new DynamoDBClient(localClientConfig(dynamo.endpoint));
  });
  after(async () => {
    client.destroy();
    await dynamo.close();
    await jwks.close();
  });

  const nowSec = () => Math.floor(Date.now() / 1000);
  const machine = (authTime: number) => jwks.sign(key, cognitoAccessClaims(jwks.issuer, { auth_time: authTime }));
  const person = (authTime: number | undefined) =>
    jwks.sign(
      key,
      cognitoAccessClaims(jwks.issuer, {
        sub: 'alice-sub',
        username: 'alice',
        'cognito:groups': ['catalog-admins'],
        auth_time: authTime,
      }),
    );

  async function withService(stepUpMaxAgeSec: number | undefined, run: (url: string) => Promise<void>): Promise<void> {
    const running: RunningService = await startService(
      { ...base, auth: { ...base.auth, stepUpMaxAgeSec } },
      { dynamo: client },
    );
    try {
      await run(running.url);
    } finally {
      await running.close();
    }
  }

  async function create(url: string): Promise<string> {
    const response = await fetch(`${url}/products`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(await machine(nowSec())) },
      body: JSON.stringify(valid),
    });
    assert.equal(response.status, 201);
    return ((await response.json()) as { id: string }).id;
  }

  const remove = (url: string, id: string, token: string) =>
    fetch(`${url}/products/${id}`, { method: 'DELETE', headers: bearer(token) });

  it('lets a person who signed in within STEP_UP_MAX_AGE_SECONDS delete', async () => {
    await withService(300, async (url) => {
      assert.equal((await remove(url, await create(url), await person(nowSec() - 10))).status, 204);
    });
  });

  it('answers 401 insufficient_user_authentication with max_age to a person who signed in earlier, or when unknown (RFC 9470 §3)', async () => {
    await withService(300, async (url) => {
      const id = await create(url);
      for (const authTime of [nowSec() - 3600, undefined]) {
        const response = await remove(url, id, await person(authTime));
        assert.equal(response.status, 401);
        assert.equal(
          response.headers.get('www-authenticate'),
          'Bearer realm="product-service", error="insufficient_user_authentication", ' +
            'error_description="a more recent or stronger authentication is required", max_age="300"',
        );
        assert.deepEqual(await response.json(), {
          error: 'insufficient_user_authentication',
          error_description: 'a more recent or stronger authentication is required',
        });
      }
      const product = await fetch(`${url}/products/${id}`, { headers: bearer(await machine(nowSec())) });
      assert.equal(product.status, 200, 'not deleted');
      const metrics = (await (await fetch(`${url}/metrics`, { headers: bearer(await machine(nowSec())) })).json()) as {
        auth: { refused: Record<string, number> };
      };
      assert.equal(metrics.auth.refused['insufficient_user_authentication'], 2, 'counted under its own reason');
    });
  });

  it('does not ask a machine client, whatever its auth_time', async () => {
    await withService(300, async (url) => {
      assert.equal((await remove(url, await create(url), await machine(nowSec() - 86_400))).status, 204);
    });
  });

  it('asks only on DELETE: a person with an old sign-in still changes products', async () => {
    await withService(300, async (url) => {
      const response = await fetch(`${url}/products/${await create(url)}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json-patch+json', ...bearer(await person(nowSec() - 3600)) },
        body: JSON.stringify([{ op: 'add', path: '/tags', value: ['trail'] }]),
      });
      assert.equal(response.status, 200);
    });
  });

  it('is off by default: a person with an old sign-in, or none, deletes', async () => {
    await withService(undefined, async (url) => {
      assert.equal((await remove(url, await create(url), await person(nowSec() - 86_400))).status, 204);
      assert.equal((await remove(url, await create(url), await person(undefined))).status, 204);
    });
  });
});
