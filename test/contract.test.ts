import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { exampleInput, examplePatch, exampleProduct } from '../src/products/examples.js';
import {
  jsonPatch,
  product as productSchema,
  productFields,
  productIdPattern,
  productPage,
} from '../src/products/schema.js';
import { cognito } from '@product-service/bearer';
import { createTestKey, startTestIssuer, type TestIssuer } from '@product-service/bearer-testing';
import { responseValidator, type ResponseCheck } from '../smoke/openapi-validator.js';
import {
  bearer,
  configTrusting,
  fetchToken,
  freePort,
  localTestConfig,
  startService,
  type RunningService,
} from './support/service.js';

type Documented = Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;

/** operationId -> every status the operation answered in this test. */
const answered = new Map<string, Set<number>>();
/** Every JSON body that breaks /openapi.json, as a client's JSON Schema validator reads it. */
const broken: string[] = [];
let check: ResponseCheck = () => undefined;

/** Sends one request to the operation and notes its status. */
async function call(
  base: string,
  operationId: string,
  path: string,
  init: { method?: string; token?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<number> {
  const response = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: { ...(init.token ? bearer(init.token) : {}), ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  if (response.headers.get('content-type')?.startsWith('application/json')) {
    const problem = check(init.method ?? 'GET', path, response.status, await response.json());
    if (problem) broken.push(problem);
  } else {
    await response.arrayBuffer();
  }
  (answered.get(operationId) ?? answered.set(operationId, new Set()).get(operationId))?.add(response.status);
  return response.status;
}

const json = { 'content-type': 'application/json' };
const patchType = { 'content-type': 'application/json-patch+json' };
const valid = { name: 'Trek Fuel EX', imageURL: 'https://images.example.com/fuel-ex.png' };

// Every route driven through its error cases, against the real service; then every status it answered must be
// documented for that very operation in /openapi.json. An answer the contract does not list fails here.
describe('the contract', () => {
  let running: RunningService;
  let down: RunningService;
  let failingIssuer: RunningService;
  let jwks: TestIssuer;
  let documented: Documented;

  before(async () => {
    // With the RFC 9728 metadata and RFC 9470 step-up on, so that their answers are checked against the contract too.
    running = await startService(
      localTestConfig({ RESOURCE_URL: 'https://products.example.com', STEP_UP_MAX_AGE_SECONDS: '300' }),
    );
    down = await startService(
      localTestConfig({ DYNAMODB_ENDPOINT: `http://127.0.0.1:${await freePort()}`, DYNAMODB_TIMEOUT_MS: '200' }),
    );
    jwks = await startTestIssuer({ userPoolId: 'local_Contract', keys: [] });
    await jwks.setMode('down');
    failingIssuer = await startService(configTrusting([cognito(jwks.cognitoProfile())]));
    const document = (await (await fetch(`${running.url}/openapi.json`)).json()) as { paths: Documented };
    documented = document.paths;
    check = responseValidator(document);
  });
  after(async () => {
    await running.close();
    await down.close();
    await failingIssuer.close();
    await jwks.close();
  });

  it('documents, for every operation, every status it answers (driven through its error cases)', async (t) => {
    const tokenUrl = running.service.localIssuer?.tokenUrl ?? '';
    const client = { id: 'local-client', secret: 'local-client-secret' };
    const all = await fetchToken(tokenUrl, client);
    const readOnly = await fetchToken(tokenUrl, client, 'products/read');
    const writeOnly = await fetchToken(tokenUrl, client, 'products/write');
    const base = running.url;
    const unknownId = 'AAAAAAAAAAAAAAAAAAAAAA';

    await call(base, 'hello', '/hello');
    await call(base, 'ready', '/ready');
    await call(failingIssuer.url, 'ready', '/ready');
    await call(base, 'openApi', '/openapi.json');
    await call(base, 'protectedResourceMetadata', '/.well-known/oauth-protected-resource');
    await call(base, 'metrics', '/metrics', { token: all });
    await call(base, 'metrics', '/metrics');
    await call(base, 'metrics', '/metrics', { headers: { authorization: 'Basic eDp5' } });
    await call(failingIssuer.url, 'metrics', '/metrics', { token: await jwks.sign(await createTestKey()) });

    // Create, then the ways a create goes wrong.
    const created = await fetch(`${base}/products`, {
      method: 'POST',
      headers: { ...json, ...bearer(all) },
      body: JSON.stringify(valid),
    });
    const product = (await created.json()) as { id: string };
    const post = (init: Parameters<typeof call>[3]) =>
      call(base, 'createProduct', '/products', { method: 'POST', ...init });
    await post({ token: all, headers: json, body: JSON.stringify(valid) });
    await post({ token: all, headers: json, body: JSON.stringify({ name: '' }) });
    await post({ token: all, headers: json, body: '{"name":' });
    await post({ token: all, headers: { 'content-type': 'text/plain' }, body: 'hello' });
    await post({ token: all, headers: json, body: JSON.stringify({ ...valid, description: 'x'.repeat(20_000) }) });
    await post({ token: all, headers: { ...json, 'idempotency-key': '"k-1"' }, body: JSON.stringify(valid) });
    await post({
      token: all,
      headers: { ...json, 'idempotency-key': '"k-1"' },
      body: JSON.stringify({ ...valid, name: 'Other' }),
    });
    await post({ token: readOnly, headers: json, body: JSON.stringify(valid) });
    await post({ headers: json, body: JSON.stringify(valid) });
    const keyed = await fetch(`${base}/products`, {
      method: 'POST',
      headers: { ...json, ...bearer(all), 'idempotency-key': '"k-2"' },
      body: JSON.stringify(valid),
    });
    const gone = (await keyed.json()) as { id: string };
    await fetch(`${base}/products/${gone.id}`, { method: 'DELETE', headers: bearer(all) });
    await post({ token: all, headers: { ...json, 'idempotency-key': '"k-2"' }, body: JSON.stringify(valid) });

    // Read.
    await call(base, 'getProduct', `/products/${product.id}`, { token: all });
    await call(base, 'getProduct', `/products/${product.id}`, { token: all, headers: { 'if-none-match': '"1"' } });
    await call(base, 'getProduct', `/products/${unknownId}`, { token: all });
    await call(base, 'getProduct', '/products/not-an-id', { token: all });
    await call(base, 'getProduct', `/products/${gone.id}`, { token: all });
    await call(base, 'getProduct', `/products/${product.id}`, { token: writeOnly });

    // Change.
    const patch = (id: string, init: Parameters<typeof call>[3]) =>
      call(base, 'patchProduct', `/products/${id}`, { method: 'PATCH', token: all, headers: patchType, ...init });
    await patch(product.id, { body: JSON.stringify([{ op: 'add', path: '/tags', value: ['trail'] }]) });
    await patch(product.id, { body: JSON.stringify([{ op: 'jump' }]) });
    await patch(product.id, { body: JSON.stringify([{ op: 'test', path: '/name', value: 'Not it' }]) });
    await patch(product.id, {
      headers: { ...patchType, 'if-match': '"1"' },
      body: JSON.stringify([{ op: 'remove', path: '/tags' }]),
    });
    await patch(product.id, { headers: json, body: '[]' });
    await patch(product.id, { body: JSON.stringify([{ op: 'add', path: '/description', value: 'x'.repeat(20_000) }]) });
    await patch(unknownId, { body: JSON.stringify([{ op: 'remove', path: '/tags' }]) });
    await patch(gone.id, { body: JSON.stringify([{ op: 'remove', path: '/tags' }]) });

    // History, then delete.
    await call(base, 'listSnapshots', `/products/${product.id}/snapshots`, { token: all });
    await call(base, 'listSnapshots', `/products/${product.id}/snapshots?limit=0`, { token: all });
    await call(base, 'listSnapshots', `/products/${unknownId}/snapshots`, { token: all });
    await call(base, 'listProducts', '/products', { token: all });
    await call(base, 'listProducts', '/products?limit=500', { token: all });
    await call(base, 'listProducts', '/products?cursor=forged', { token: all });
    const remove = (id: string, headers: Record<string, string> = {}) =>
      call(base, 'deleteProduct', `/products/${id}`, { method: 'DELETE', token: all, headers });
    await remove(product.id, { 'if-match': '"1"' });
    await remove(product.id);
    await remove(unknownId);

    // A store that cannot answer: every products operation.
    const downToken = await fetchToken(down.service.localIssuer?.tokenUrl ?? '', client);
    for (const [operationId, method, path, body, headers] of [
      ['listProducts', 'GET', '/products', undefined, {}],
      ['createProduct', 'POST', '/products', JSON.stringify(valid), json],
      ['getProduct', 'GET', `/products/${unknownId}`, undefined, {}],
      ['patchProduct', 'PATCH', `/products/${unknownId}`, '[{"op":"remove","path":"/tags"}]', patchType],
      ['deleteProduct', 'DELETE', `/products/${unknownId}`, undefined, {}],
      ['listSnapshots', 'GET', `/products/${unknownId}/snapshots`, undefined, {}],
    ] as const) {
      await call(down.url, operationId, path, { method, token: downToken, headers, ...(body ? { body } : {}) });
    }

    const undocumented: string[] = [];
    const byOperation = new Map(
      Object.values(documented).flatMap((byMethod) => Object.values(byMethod).map((op) => [op.operationId, op])),
    );
    for (const [operationId, statuses] of answered) {
      const operation = byOperation.get(operationId);
      assert.ok(operation, `${operationId} is not in the document`);
      for (const status of statuses) {
        if (!(String(status) in operation.responses)) undocumented.push(`${operationId} ${status}`);
      }
    }
    t.diagnostic([...answered].map(([op, statuses]) => `${op} ${[...statuses].sort().join(',')}`).join('; '));
    assert.deepEqual(undocumented, []);
    assert.deepEqual(broken, [], 'every JSON body validates against its operation and status');
    assert.equal(answered.size, byOperation.size, 'every documented operation was driven');
    assert.ok([...answered.values()].reduce((n, statuses) => n + statuses.size, 0) >= 40, 'the error cases ran');
  });
});

describe('the examples of the contract', () => {
  it('are valid against their schemas, so Execute on the docs page sends what the service accepts', () => {
    assert.deepEqual(productFields.parse(exampleInput), exampleInput);
    assert.deepEqual(productSchema.parse(exampleProduct), exampleProduct);
    assert.deepEqual(jsonPatch.parse(examplePatch), examplePatch);
    productPage.parse({ items: [exampleProduct], next: null });
    assert.ok(productIdPattern.test(exampleProduct.id));
  });
});
