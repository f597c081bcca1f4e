// The contract metrics in the cases that a healthy run never shows: a publisher that fails (the outbox backlog), a
// store that is gone (503s), writes that lose races. A real SDK meter provider with an in-memory exporter.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SNSClient } from '@aws-sdk/client-sns';
import type { DataPoint } from '@opentelemetry/sdk-metrics';
import { createSnsPublisher } from '../src/products/events.js';
import { startLocalDynamo, type LocalDynamo } from '../src/local/dynamodb.js';
import type { Product } from '../src/products/schema.js';
import type { ProductRepository } from '../src/products/repository.js';
import { createProductService } from '../src/products/service.js';
import { createTelemetry } from '../src/telemetry/instruments.js';
import { startInMemoryTelemetry } from './support/in-memory-telemetry.js';
import { cognito } from '@product-service/bearer';
import { createTestKey, startTestIssuer, type TestIssuer, type TestKey } from '@product-service/bearer-testing';
import {
  bearer,
  configTrusting,
  createProduct,
  fetchToken,
  localClient,
  localTestConfig,
  startService,
  type RunningService,
} from './support/service.js';

const config = localTestConfig({
  OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
  DYNAMODB_MAX_ATTEMPTS: '1',
  CURSOR_SECRET: 'metrics-test-cursor-secret-0123456789',
});
const { sdk, metrics: exporter, reader } = startInMemoryTelemetry(config);

/** The points of `name` in a collection made now, with its unit. */
async function collect(name: string): Promise<{ unit: string; points: DataPoint<unknown>[] }> {
  exporter.reset();
  await reader.forceFlush();
  const metrics = exporter.getMetrics().flatMap((resource) => resource.scopeMetrics.flatMap((scope) => scope.metrics));
  const metric = metrics.find((found) => found.descriptor.name === name);
  assert.ok(metric, `${name} among ${metrics.map((found) => found.descriptor.name).join(', ')}`);
  return { unit: metric.descriptor.unit, points: metric.dataPoints };
}

const valueOf = (points: readonly DataPoint<unknown>[], attributes: Record<string, string>) =>
  points.find((point) => Object.entries(attributes).every(([key, value]) => point.attributes[key] === value))?.value;

describe('product_service.store.conflicts', () => {
  it('counts each write that lost a race and was retried, then the one given up (exhausted) when the deadline ran out', async () => {
    const telemetry = createTelemetry(sdk);
    const product = {
      id: 'p1',
      version: 1,
      lastModified: new Date(0).toISOString(),
      name: 'Raced',
      imageURL: 'https://images.example.com/raced.png',
    } as Product;
    // A store where every conditional write loses to another writer.
    const repository = {
      get: () =>
        Promise.resolve({ product, deleted: false, outbox: { version: 1, entries: [] }, idempotency: undefined }),
      update: () => Promise.resolve('conflict' as const),
    } as unknown as ProductRepository;
    const products = createProductService({
      repository,
      drainer: { drain: () => Promise.resolve(true) } as never,
      deadlineMs: 150,
      onConflict: (outcome) => telemetry.storeConflict(outcome),
    });
    await assert.rejects(products.patch('p1', [{ op: 'replace', path: '/name', value: 'Again' }]), {
      code: 'conflict_exhausted',
    });
    const conflicts = await collect('product_service.store.conflicts');
    assert.equal(conflicts.unit, '{conflict}');
    assert.ok(Number(valueOf(conflicts.points, { outcome: 'retried' })) >= 1);
    assert.equal(valueOf(conflicts.points, { outcome: 'exhausted' }), 1);
  });
});

// Last: closing the service shuts the SDK down.
describe('the key-set metrics when the issuer fails', () => {
  let jwks: TestIssuer;
  let key: TestKey;
  let running: RunningService;

  before(async () => {
    key = await createTestKey();
    jwks = await startTestIssuer({ userPoolId: 'local_FailingIssuer', keys: [key] });
    const trusting = configTrusting([
      // A set is current for 300 ms, then used for up to a minute more while its issuer fails (stale-if-error).
      cognito(jwks.cognitoProfile({ keySet: { maxAgeMs: 300, staleIfErrorMs: 60_000 } })),
    ]);
    // The SDK this file shares: the service must not shut it down when it closes (the next describe uses it).
    const telemetry = { ...createTelemetry(sdk), shutdown: () => Promise.resolve() };
    running = await startService({ ...trusting, products: config.products }, { telemetry });
  });
  after(async () => {
    await running.close();
    await jwks.close();
  });

  it('counts the failed fetch, each use of the stale set, and the 503s for a key that cannot be had', async () => {
    const before = await collect('product_service.keyset.fetches');
    const failedBefore = Number(valueOf(before.points, { outcome: 'failed' }) ?? 0);
    const token = await jwks.cognitoAccessToken({}, { key });
    const call = async (bearerToken: string) =>
      (await fetch(`${running.url}/metrics`, { headers: bearer(bearerToken) })).status;
    assert.equal(await call(token), 200);
    await jwks.setMode('down');
    await new Promise((resolve) => setTimeout(resolve, 400));
    // Past its maximum age: this use starts the refresh, which fails; the next uses are of a stale set.
    assert.equal(await call(token), 200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(await call(token), 200);
    assert.equal(
      await call(await jwks.cognitoAccessToken({}, { key })),
      200,
      'a new token signed by a held key is still admitted',
    );
    // A key the stale set lacks cannot be had while the issuer fails: 503, not 401.
    assert.equal(await call(await jwks.cognitoAccessToken({}, { key: await createTestKey() })), 503);

    const fetches = await collect('product_service.keyset.fetches');
    assert.equal(fetches.unit, '{fetch}');
    assert.ok(Number(valueOf(fetches.points, { outcome: 'failed' })) > failedBefore);
    const stale = await collect('product_service.keyset.stale_uses');
    assert.equal(stale.unit, '{use}');
    assert.ok(Number(stale.points[0]?.value) >= 2, JSON.stringify(stale.points));
    const refusals = await collect('product_service.auth.refusals');
    assert.equal(valueOf(refusals.points, { 'product_service.auth.refusal': 'keys_unavailable' }), 1);
  });
});

describe('the contract metrics when dependencies fail', () => {
  let store: LocalDynamo;
  let sns: Server;
  let running: RunningService;
  let token: string;
  let productId: string;

  before(async () => {
    store = await startLocalDynamo({ products: config.products.table, snapshots: config.products.snapshotsTable });
    // SNS answering 500 to every Publish: the event stays in the outbox.
    sns = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(500, { 'content-type': 'text/xml' });
        response.end('<ErrorResponse><Error><Code>InternalError</Code></Error></ErrorResponse>');
      });
    });
    await new Promise<void>((resolve) => sns.listen(0, '127.0.0.1', resolve));
    const client = new SNSClient({
      endpoint: `http://127.0.0.1:${(sns.address() as AddressInfo).port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    running = await startService(
      { ...config, products: { ...config.products, dynamodbEndpoint: store.endpoint } },
      { publisher: createSnsPublisher(client, 'arn:aws:sns:us-east-1:123456789012:product-events') },
    );
    token = await fetchToken(running.service.localIssuer?.tokenUrl ?? '', localClient);
    productId = await createProduct(running.url, token, 'Unsent');
  });
  after(async () => {
    await running.close();
    sns.close();
    await store.close();
  });

  it('counts the failed publish, and the outbox gauges show the entry left behind and its age', async () => {
    const published = await collect('product_service.events.published');
    assert.equal(published.unit, '{event}');
    assert.equal(valueOf(published.points, { outcome: 'failed' }), 1);
    assert.equal(valueOf(published.points, { outcome: 'published' }), undefined);
    const pending = await collect('product_service.outbox.pending');
    assert.equal(pending.unit, '{entry}');
    assert.deepEqual(
      pending.points.map((point) => point.value),
      [1],
    );
    const age = await collect('product_service.outbox.oldest_age');
    assert.equal(age.unit, 's');
    const [oldest] = age.points.map((point) => Number(point.value));
    assert.ok(oldest !== undefined && oldest >= 0 && oldest < 60, String(oldest));
  });

  it('counts a fetch of the issuer keys as ok', async () => {
    const fetches = await collect('product_service.keyset.fetches');
    assert.ok(Number(valueOf(fetches.points, { outcome: 'ok' })) >= 1);
  });

  it('counts a 503 for a store that is gone as unavailable, and the failed GetItem as an error', async () => {
    await store.close();
    const answer = await fetch(`${running.url}/products/${productId}`, { headers: bearer(token) });
    assert.equal(answer.status, 503);
    const unavailable = await collect('product_service.store.unavailable');
    assert.equal(unavailable.unit, '{request}');
    assert.deepEqual(
      unavailable.points.map((point) => point.value),
      [1],
    );
    const calls = await collect('product_service.store.duration');
    assert.ok(valueOf(calls.points, { 'db.operation.name': 'GetItem', outcome: 'error' }));
    assert.ok(valueOf(calls.points, { 'db.operation.name': 'PutItem', outcome: 'ok' }));
    const requests = await collect('http.server.request.duration');
    assert.ok(
      valueOf(requests.points, {
        'http.request.method': 'GET',
        'http.route': '/products/:id',
        'http.response.status_class': '5xx',
      }),
    );
  });
});
