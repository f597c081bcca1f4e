// The span tree of a PATCH, in process: a real SDK tracer provider with an in-memory exporter, set up as
// src/telemetry/register.ts does before the app (the SDK first, then the app's modules), so that the instrumentations
// patch the AWS SDK as the app imports it.
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startSnsRecorder, type SnsRecorder } from './support/sns-recorder.js';
const { SpanKind, SpanStatusCode } = await import('@opentelemetry/api');
const { startInMemoryTelemetry, tracedLocalConfig } = await import('./support/in-memory-telemetry.js');
const cursorSecret = 'in-memory-cursor-secret-0123456789abcdef';
const config = tracedLocalConfig({ CURSOR_SECRET: cursorSecret });
const { spans } = startInMemoryTelemetry(config);
const { SNSClient } = await import('@aws-sdk/client-sns');
const { createSnsPublisher } = await import('../src/products/events.js');
const { startService, fetchToken, bearer, localClient, createProduct } = await import('./support/service.js');
type RunningService = Awaited<ReturnType<typeof startService>>;

describe('the span tree of PATCH /products/:id (in-memory exporter)', () => {
  let running: RunningService;
  let sns: SnsRecorder;
  let token: string;
  let productId: string;

  before(async () => {
    sns = await startSnsRecorder();
    const client = new SNSClient({
      endpoint: sns.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    running = await startService(config, {
      publisher: createSnsPublisher(client, 'arn:aws:sns:us-east-1:123456789012:product-events'),
    });
    const tokenUrl = running.service.localIssuer?.tokenUrl ?? '';
    token = await fetchToken(tokenUrl, localClient);
    productId = await createProduct(running.url, token, 'In memory');
    spans.reset();
    sns.bodies.length = 0;
    const patched = await fetch(`${running.url}/products/${productId}`, {
      method: 'PATCH',
      headers: { ...bearer(token), 'content-type': 'application/json-patch+json' },
      body: JSON.stringify([{ op: 'replace', path: '/name', value: 'In memory again' }]),
    });
    assert.equal(patched.status, 200);
  });
  after(async () => {
    await running.close();
    await sns.close();
  });

  it('has the server span named by route template, the DynamoDB calls and the SNS publish under it', () => {
    const finished = spans.getFinishedSpans();
    const server = finished.find((span) => span.name === 'PATCH /products/:id');
    assert.ok(server, finished.map((span) => span.name).join(', '));
    assert.equal(server.attributes['http.route'], '/products/:id');
    const traceId = server.spanContext().traceId;
    const inTrace = finished.filter((span) => span.spanContext().traceId === traceId);
    const ids = new Set(inTrace.map((span) => span.spanContext().spanId));
    const calls = inTrace.filter((span) => span.attributes['rpc.service'] === 'DynamoDB');
    const methods = calls.map((span) => span.attributes['rpc.method']);
    // The read, the conditional write, then the drain: snapshot, (publish), outbox entry removed.
    assert.deepEqual(methods.slice(0, 3), ['GetItem', 'UpdateItem', 'PutItem']);
    const publish = inTrace.find((span) => span.attributes['rpc.service'] === 'SNS');
    assert.ok(publish, 'the outbox drain publishes within the request');
    assert.equal(publish.attributes['rpc.method'], 'Publish');
    for (const span of [...calls, publish]) assert.ok(ids.has(span.parentSpanContext?.spanId ?? ''), span.name);
  });

  it("sends the publish span's context to subscribers as a traceparent message attribute", () => {
    const publish = spans.getFinishedSpans().find((span) => span.attributes['rpc.method'] === 'Publish');
    assert.ok(publish);
    const body = decodeURIComponent(sns.bodies.join('\n'));
    const { traceId, spanId } = publish.spanContext();
    assert.ok(body.includes('traceparent'), body);
    assert.ok(body.includes(`00-${traceId}-${spanId}-01`), body);
  });

  it("continues the caller's W3C trace context and describes the request by the HTTP conventions (server span)", async () => {
    // W3C Trace Context §3.2: version 00, a trace id, the caller's span id, flags 01 (sampled).
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpanId = '00f067aa0ba902b7';
    spans.reset();
    // node:http, not fetch: this process's fetch is traced, and would send a traceparent of its own.
    const status = await new Promise<number | undefined>((resolve, reject) => {
      get(
        `${running.url}/products/${productId}?fields=name&note=private-value`,
        { headers: { ...bearer(token), traceparent: `00-${traceId}-${callerSpanId}-01`, 'user-agent': 'span-test/1' } },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode));
        },
      ).on('error', reject);
    });
    assert.equal(status, 200);
    const server = spans.getFinishedSpans().find((span) => span.name === 'GET /products/:id');
    assert.ok(server);
    assert.equal(server.kind, SpanKind.SERVER);
    assert.equal(server.spanContext().traceId, traceId);
    assert.equal(server.parentSpanContext?.spanId, callerSpanId);
    assert.deepEqual(
      {
        method: server.attributes['http.request.method'],
        status: server.attributes['http.response.status_code'],
        path: server.attributes['url.path'],
        query: server.attributes['url.query'],
        agent: server.attributes['user_agent.original'],
      },
      {
        method: 'GET',
        status: 200,
        path: `/products/${productId}`,
        // Names only: a value (an RFC 6750 §2.3 access_token among them) never reaches a span.
        query: 'fields=REDACTED&note=REDACTED',
        agent: 'span-test/1',
      },
    );
    assert.notEqual(server.status.code, SpanStatusCode.ERROR);
    // The DynamoDB read is a child of the server span, in the caller's trace.
    const getItem = spans.getFinishedSpans().find((span) => span.attributes['rpc.method'] === 'GetItem');
    assert.equal(getItem?.parentSpanContext?.spanId, server.spanContext().spanId);
  });

  it('carries no token, authorization header, client id, subject or cursor secret in any span', () => {
    const forbidden = [token, 'authorization', 'bearer', 'local-client', cursorSecret];
    for (const span of spans.getFinishedSpans()) {
      const text = JSON.stringify([span.name, span.attributes, span.events]).toLowerCase();
      for (const value of forbidden) assert.ok(!text.includes(value.toLowerCase()), `${value} in ${text}`);
    }
  });
});
