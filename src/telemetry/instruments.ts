// The service's metrics and span naming over OpenTelemetry. Imported by app.ts only when telemetry is configured.
// The names, units and attributes are a contract: the collector's awsemf exporter turns them into CloudWatch metrics
// in the ProductService namespace, and infra/'s alarms and dashboard name them (docs/operations.md lists them).
import { METHODS } from 'node:http';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
} from '@opentelemetry/api';
import type { ParameterizedContext } from 'koa';
import { match } from 'path-to-regexp';
import type { RefusalReason } from '@product-service/bearer';
import type { Route } from '../http/route.js';
import type { TelemetrySdk } from './sdk.js';
import type { Telemetry } from './telemetry.js';

const knownMethods = new Set(METHODS);

/** Request durations in seconds: OpenTelemetry's advised boundaries for `http.server.request.duration`. */
const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

interface RouteTemplate {
  readonly template: string;
  readonly matches: (path: string) => boolean;
  readonly usesStore: boolean;
}

/** The template of the first route whose path matches, whatever the method (a 405 still has a route). */
function templates(routes: readonly Route[]): (path: string) => RouteTemplate | undefined {
  const byPath = new Map<string, RouteTemplate>();
  for (const { path, doc } of routes) {
    const test = match(path, { decode: false });
    // A path's 503s are store outages if any of its routes uses the store.
    const usesStore = (byPath.get(path)?.usesStore ?? false) || (doc?.usesStore ?? false);
    byPath.set(path, { template: path, matches: (candidate) => test(candidate) !== false, usesStore });
  }
  const known = [...byPath.values()];
  return (path) => known.find(({ matches }) => matches(path));
}

/**
 * The server span's request attributes (semantic conventions for HTTP server spans, stable), read from what Node
 * already parsed. No header but `Host` and `User-Agent` is read: `Authorization` carries the bearer token. The query
 * string may carry an `access_token` (RFC 6750 §2.3, which the service refuses): its names are kept, never its values.
 */
function serverSpanAttributes(ctx: ParameterizedContext, method: string): Attributes {
  const { req } = ctx;
  const attributes: Attributes = {
    'http.request.method': method,
    'url.scheme': ctx.protocol,
    'url.path': ctx.path,
    'network.protocol.version': req.httpVersion,
    'client.address': ctx.ip,
  };
  if (method !== ctx.method) attributes['http.request.method_original'] = ctx.method;
  if (ctx.querystring !== '') {
    const names = [...new URLSearchParams(ctx.querystring).keys()];
    attributes['url.query'] = names.map((name) => `${name}=REDACTED`).join('&');
  }
  const host = ctx.hostname;
  if (host !== '') attributes['server.address'] = host;
  const port = Number(ctx.host.slice(host.length + 1));
  if (Number.isInteger(port) && port > 0) attributes['server.port'] = port;
  const userAgent = ctx.get('user-agent');
  if (userAgent !== '') attributes['user_agent.original'] = userAgent;
  if (req.socket.remoteAddress !== undefined) attributes['network.peer.address'] = req.socket.remoteAddress;
  if (req.socket.remotePort !== undefined) attributes['network.peer.port'] = req.socket.remotePort;
  return attributes;
}

function statusClass(status: number): string {
  return status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : '2xx';
}

export function createTelemetry(sdk: TelemetrySdk): Telemetry {
  const meter = sdk.meterProvider.getMeter('product-service');
  const requestDuration = meter.createHistogram('http.server.request.duration', {
    unit: 's',
    description: 'Duration of HTTP server requests, by route template',
    advice: { explicitBucketBoundaries: durationBuckets },
  });
  const keySetFetches = meter.createCounter('product_service.keyset.fetches', {
    unit: '{fetch}',
    description: "Fetches of an issuer's JWKS, by outcome",
  });
  const storeDuration = meter.createHistogram('product_service.store.duration', {
    unit: 's',
    description: 'Duration of DynamoDB calls (every SDK attempt together), by operation and outcome',
    advice: { explicitBucketBoundaries: durationBuckets },
  });
  const storeConflicts = meter.createCounter('product_service.store.conflicts', {
    unit: '{conflict}',
    description: 'Conditional writes that lost a race: retried, or answered 409',
  });
  const storeUnavailable = meter.createCounter('product_service.store.unavailable', {
    unit: '{request}',
    description: 'Requests answered 503 because the store failed or missed its deadline',
  });
  const eventsPublished = meter.createCounter('product_service.events.published', {
    unit: '{event}',
    description: 'Change events handed to the publisher, by outcome',
  });

  return {
    requests(routes) {
      const routeOf = templates(routes);
      const tracer = sdk.tracerProvider.getTracer('product-service');
      return async (ctx, next) => {
        const started = performance.now();
        const method = knownMethods.has(ctx.method) ? ctx.method : '_OTHER';
        // The caller's W3C trace context, if any, is the parent; the sampler decides from it (parentbased_*).
        const parent = propagation.extract(ROOT_CONTEXT, ctx.headers);
        // The samplers offered read no attributes; a request that is not sampled (most, at prod's ratio) builds none.
        const span = tracer.startSpan(method, { kind: SpanKind.SERVER }, parent);
        if (span.isRecording()) span.setAttributes(serverSpanAttributes(ctx, method));
        try {
          // Everything the request does runs in its span's context: store calls, fetches, every log line.
          await context.with(trace.setSpan(parent, span), next);
        } finally {
          const route = routeOf(ctx.path);
          const { status } = ctx;
          const refusal = ctx.state.authRefusal;
          requestDuration.record((performance.now() - started) / 1000, {
            'http.request.method': method,
            'http.route': route?.template ?? 'unmatched',
            'http.response.status_class': statusClass(status),
          });
          if (status === 503 && refusal === undefined && route?.usesStore) storeUnavailable.add(1);
          if (span.isRecording()) {
            // OpenTelemetry's HTTP conventions: `{method} {http.route}`, the method alone when no route matched.
            span.updateName(route ? `${method} ${route.template}` : method);
            span.setAttribute('http.response.status_code', status);
            if (route) span.setAttribute('http.route', route.template);
            if (refusal) span.setAttribute('product_service.auth.refusal', refusal);
            // A server span is an error for 5xx only; a 4xx is the client's (semantic conventions, HTTP spans).
            if (status >= 500) {
              span.setAttribute('error.type', String(status));
              span.setStatus({ code: SpanStatusCode.ERROR });
            }
          }
          span.end();
        }
      };
    },

    logFields() {
      const active = trace.getActiveSpan()?.spanContext();
      // A new object each time: pino merges the line's own fields into it.
      if (!active) return {};
      return { trace_id: active.traceId, span_id: active.spanId };
    },

    keySetEvent(event) {
      if (event.type === 'fetched') keySetFetches.add(1, { outcome: 'ok' });
      else if (event.type === 'fetch_failed') keySetFetches.add(1, { outcome: 'failed' });
    },

    storeConflict(outcome) {
      storeConflicts.add(1, { outcome });
    },

    instrumentStore(client) {
      client.middlewareStack.add(
        (next, handlerContext) => async (args) => {
          const started = performance.now();
          const attributes: Attributes = {
            'db.operation.name': handlerContext.commandName?.replace(/Command$/, '') ?? '',
          };
          try {
            const output = await next(args);
            storeDuration.record((performance.now() - started) / 1000, { ...attributes, outcome: 'ok' });
            return output;
          } catch (error) {
            storeDuration.record((performance.now() - started) / 1000, { ...attributes, outcome: 'error' });
            throw error;
          }
        },
        // Outermost: one measure per call, the SDK's retries within it.
        { step: 'initialize', name: 'storeTelemetry', override: true },
      );
    },

    countPublishes(publisher) {
      return {
        async publish(event) {
          try {
            await publisher.publish(event);
            eventsPublished.add(1, { outcome: 'published' });
          } catch (error) {
            eventsPublished.add(1, { outcome: 'failed' });
            throw error;
          }
        },
      };
    },

    observe({ authCounters, authenticator, drainer }) {
      // Read at collection from the very counters /metrics shows: the numbers agree, and a request pays nothing.
      meter
        .createObservableCounter('product_service.auth.refusals', {
          unit: '{request}',
          description: 'Requests refused by the bearer-token check, by reason',
        })
        .addCallback((result) => {
          for (const [reason, count] of Object.entries(authCounters.refused) as [RefusalReason, number][]) {
            result.observe(count, { 'product_service.auth.refusal': reason });
          }
        });
      meter
        .createObservableCounter('product_service.keyset.stale_uses', {
          unit: '{use}',
          description: 'Uses of a key set past its maximum age while its issuer failed (stale-if-error)',
        })
        .addCallback((result) => {
          result.observe(authenticator.issuers.reduce((sum, { keySet }) => sum + keySet.stats.staleUses, 0));
        });
      meter
        .createObservableGauge('product_service.outbox.pending', {
          unit: '{entry}',
          description: 'Outbox entries this task knows are not yet delivered',
        })
        .addCallback((result) => result.observe(drainer.backlog().entries));
      meter
        .createObservableGauge('product_service.outbox.oldest_age', {
          unit: 's',
          description: 'Age of the oldest outbox entry this task knows is not yet delivered (0 when none)',
        })
        .addCallback((result) => {
          const { oldestAt } = drainer.backlog();
          result.observe(oldestAt === undefined ? 0 : Math.max(0, (Date.now() - oldestAt) / 1000));
        });
    },

    shutdown: () => sdk.shutdown(),
  };
}
