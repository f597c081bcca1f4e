import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildDist } from './support/dist.js';
import {
  cognitoAccessClaims,
  createTestKey,
  startTestIssuer,
  type TestIssuer,
  type TestKey,
} from '@product-service/bearer-testing';
import { startOtlpReceiver, type OtlpReceiver } from './support/otlp-receiver.js';
import { awsLikeEnv, startStoreProcess, watchLines, type StoreProcess } from './support/processes.js';
import { bearer } from './support/service.js';

// Loaded with --import before everything else: every module URL the process resolves (import or require), written
// out at exit. Node's synchronous resolve hook sees each resolution, whoever asks and whenever.
const probeSource = `
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
const seen = new Set();
registerHooks({ resolve(specifier, context, next) { const found = next(specifier, context); seen.add(found.url); return found; } });
process.on('exit', () => writeFileSync(process.env.MODULE_PROBE_OUT, JSON.stringify([...seen])));
`;

const subject = 'subject-7f3a2b';
const clientId = 'client-9c2e41';
const cursorSecret = awsLikeEnv({ issuer: '', jwksUri: '' }, '')['CURSOR_SECRET'] ?? '';
const templates = [
  '/hello',
  '/ready',
  '/metrics',
  '/openapi.json',
  '/docs',
  '/docs/:file',
  '/products',
  '/products/:id',
];

interface Run {
  /** Every module URL the process resolved. */
  readonly modules: readonly string[];
  readonly logs: readonly Record<string, unknown>[];
  readonly token: string;
  readonly productId: string;
  readonly code: number | null;
}

describe('traces and metrics over OTLP from node dist/server.js', () => {
  let dir: string;
  let store: StoreProcess;
  let jwks: TestIssuer;
  let key: TestKey;

  before(async () => {
    dir = buildDist('telemetry');
    writeFileSync(join(dir, 'probe.mjs'), probeSource);
    [store, jwks, key] = await Promise.all([
      startStoreProcess(),
      startTestIssuer({ userPoolId: 'local_Telemetry', keys: [] }),
      createTestKey(),
    ]);
    jwks.publish([key]);
  });
  after(async () => {
    await store.close();
    await jwks.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts the image's command, makes a product, reads and patches it, is refused twice, gets a 404, and SIGTERM. */
  async function run(otel: Record<string, string>): Promise<Run> {
    const modulesFile = join(dir, `modules-${String(Date.now())}.json`);
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_') && !name.startsWith('OTEL_')),
    );
    const child = spawn(
      process.execPath,
      ['--import', './probe.mjs', '--import', './dist/telemetry/register.js', 'dist/server.js'],
      {
        cwd: dir,
        env: { ...env, ...awsLikeEnv(jwks, store.endpoint), MODULE_PROBE_OUT: modulesFile, ...otel },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const logs: Record<string, unknown>[] = [];
    const lines = watchLines(child, (line) => logs.push(JSON.parse(line) as Record<string, unknown>));
    const exited = new Promise<number | null>((done) => child.once('exit', done));
    try {
      const listening = await lines.first((line) => line.includes('product-service listening'));
      const base = `http://127.0.0.1:${String((JSON.parse(listening) as { port: number }).port)}`;
      const token = await jwks.sign(key, cognitoAccessClaims(jwks.issuer, { sub: subject, client_id: clientId }));
      const created = await fetch(`${base}/products`, {
        method: 'POST',
        headers: { ...bearer(token), 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Traced', imageURL: 'https://images.example.com/traced.png' }),
      });
      assert.equal(created.status, 201);
      const { id } = (await created.json()) as { id: string };
      assert.equal((await fetch(`${base}/products/${id}`, { headers: bearer(token) })).status, 200);
      const patched = await fetch(`${base}/products/${id}`, {
        method: 'PATCH',
        headers: { ...bearer(token), 'content-type': 'application/json-patch+json' },
        body: JSON.stringify([{ op: 'replace', path: '/name', value: 'Traced again' }]),
      });
      assert.equal(patched.status, 200);
      assert.equal((await fetch(`${base}/products/${id}`)).status, 401);
      // RFC 6750 §2.3's query token, which the service refuses: it must not reach a span through the URL either.
      assert.equal((await fetch(`${base}/products?access_token=${token}`)).status, 400);
      assert.equal((await fetch(`${base}/nowhere/${id}`, { headers: bearer(token) })).status, 404);
      child.kill('SIGTERM');
      const code = await exited;
      const modules = JSON.parse(readFileSync(modulesFile, 'utf8')) as string[];
      return { modules, logs, token, productId: id, code };
    } finally {
      child.kill('SIGKILL');
    }
  }

  const otelModules = (modules: readonly string[]) => modules.filter((url) => url.includes('/@opentelemetry/'));

  it('loads no OpenTelemetry module when no OTEL_ variable is set, and its log lines carry no trace id', async () => {
    const { modules, logs, code } = await run({});
    assert.equal(code, 0);
    // The probe saw the app's own modules: an empty list would pass for the wrong reason.
    assert.ok(modules.some((url) => url.includes('/node_modules/koa/')));
    assert.deepEqual(otelModules(modules), []);
    assert.ok(logs.every((line) => !('trace_id' in line)));
  });

  for (const protocol of ['http/json', 'http/protobuf'] as const) {
    describe(`with OTEL_EXPORTER_OTLP_PROTOCOL=${protocol}`, () => {
      let receiver: OtlpReceiver;
      let result: Run;
      before(async () => {
        receiver = await startOtlpReceiver();
        result = await run({
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
          OTEL_SERVICE_NAME: 'product-service-test',
          // An hour: only the flush at SIGTERM, within the drain, can deliver the metrics.
          OTEL_METRIC_EXPORT_INTERVAL: '3600000',
          // As the task definition sets it, so that the collector can give CloudWatch percentiles (JSON run only).
          ...(protocol === 'http/json'
            ? { OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'base2_exponential_bucket_histogram' }
            : {}),
        });
      });
      after(() => receiver.close());

      it('loads the OpenTelemetry modules (the negative control of the check above) and exits 0 at SIGTERM', () => {
        assert.equal(result.code, 0);
        assert.ok(otelModules(result.modules).some((url) => url.includes('/@opentelemetry/sdk-trace/')));
        const type = protocol === 'http/json' ? 'application/json' : 'application/x-protobuf';
        assert.ok(receiver.posts.length >= 2);
        for (const post of receiver.posts) assert.equal(post.contentType, type);
      });

      it('names the server span by route template, with DynamoDB client spans under it', () => {
        const { spans } = receiver;
        const patch = spans.find((span) => span.name === 'PATCH /products/:id');
        assert.ok(patch, `span names: ${spans.map((span) => span.name).join(', ')}`);
        assert.equal(patch.attributes['http.route'], '/products/:id');
        assert.equal(patch.resource['service.name'], 'product-service-test');
        const store = spans.filter(
          (span) => span.traceId === patch.traceId && span.attributes['rpc.service'] === 'DynamoDB',
        );
        const operations = new Set(store.map((span) => span.attributes['rpc.method']));
        assert.ok(operations.has('GetItem') && operations.has('UpdateItem'), [...operations].join(', '));
        for (const span of store) assert.ok(spans.some((parent) => parent.spanId === span.parentSpanId));
        const refused = spans.find((span) => span.attributes['product_service.auth.refusal'] === 'missing');
        assert.equal(refused?.name, 'GET /products/:id');
        assert.ok(spans.some((span) => span.name === 'GET' && span.attributes['http.route'] === undefined));
      });

      it("puts the request's trace_id and span_id in the log lines written inside it", () => {
        const requestLines = result.logs.filter((line) => line['msg'] === 'request');
        assert.equal(requestLines.length, 6);
        const traceIds = new Set(receiver.spans.map((span) => span.traceId));
        for (const line of requestLines) assert.ok(traceIds.has(String(line['trace_id'])), JSON.stringify(line));
      });

      it('carries no token, authorization header, subject, client id or secret in any span', () => {
        const forbidden = [result.token, subject, clientId, cursorSecret, 'authorization', 'bearer'];
        for (const span of receiver.spans) {
          const text = JSON.stringify([span.name, span.attributes, span.events]).toLowerCase();
          for (const value of forbidden) assert.ok(!text.includes(value.toLowerCase()), `${value} in ${text}`);
        }
      });

      it('exports the contract metrics at SIGTERM: names, units, route templates and never an id', () => {
        const byName = new Map(receiver.metrics.map((metric) => [metric.name, metric]));
        const expect = (name: string, unit: string) => {
          const metric = byName.get(name);
          assert.ok(metric, `${name} among ${[...byName.keys()].join(', ')}`);
          assert.equal(metric.unit, unit, name);
          assert.equal(metric.resource['service.name'], 'product-service-test');
          return metric;
        };
        const requests = expect('http.server.request.duration', 's');
        assert.equal(requests.type, protocol === 'http/json' ? 'exponential_histogram' : 'histogram');
        const routes = new Set(requests.points.map((point) => point.attributes['http.route']));
        assert.deepEqual([...routes].sort(), ['/products', '/products/:id', 'unmatched']);
        for (const point of requests.points) {
          assert.ok(
            templates.includes(String(point.attributes['http.route'])) ||
              point.attributes['http.route'] === 'unmatched',
          );
          assert.match(String(point.attributes['http.response.status_class']), /^[2-5]xx$/);
          assert.match(String(point.attributes['http.request.method']), /^(GET|POST|PATCH)$/);
        }
        const refusals = expect('product_service.auth.refusals', '{request}');
        assert.deepEqual(
          refusals.points.map((point) => [point.attributes['product_service.auth.refusal'], point.value]),
          [
            ['missing', 1],
            ['malformed', 1],
          ],
        );
        const storeCalls = expect('product_service.store.duration', 's');
        const operations = new Set(storeCalls.points.map((point) => point.attributes['db.operation.name']));
        for (const operation of ['PutItem', 'GetItem', 'UpdateItem']) assert.ok(operations.has(operation), operation);
        assert.ok(storeCalls.points.every((point) => point.attributes['outcome'] === 'ok'));
        const published = expect('product_service.events.published', '{event}');
        assert.deepEqual(
          published.points.map((point) => [point.attributes['outcome'], point.value]),
          [['published', 2]],
        );
        expect('product_service.keyset.fetches', '{fetch}');
        expect('product_service.keyset.stale_uses', '{use}');
        assert.deepEqual(
          expect('product_service.outbox.pending', '{entry}').points.map((point) => point.value),
          [0],
        );
        expect('product_service.outbox.oldest_age', 's');
        // No instrumentation's own HTTP metric under another name with raw attributes.
        assert.ok(!byName.has('http.server.duration'));
        const everyValue = JSON.stringify(receiver.metrics.map((metric) => metric.points));
        assert.ok(!everyValue.includes(result.productId), 'no product id in any metric attribute');
      });
    });
  }
});
