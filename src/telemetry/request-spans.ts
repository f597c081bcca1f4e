// The server span and the request duration of every request, named by route template. Imported through
// instruments.ts only when telemetry is configured.
import { METHODS } from 'node:http';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Histogram,
  type Counter,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { Middleware, ParameterizedContext } from 'koa';
import type { AuthState } from '@product-service/bearer-koa';
import type { RouteTable } from '../http/route.js';

const knownMethods = new Set(METHODS);

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

/** The instruments a request records into. */
export interface RequestInstruments {
  readonly requestDuration: Histogram;
  readonly storeUnavailable: Counter;
}

/**
 * The outermost middleware: the caller's W3C trace context, if any, is the parent (the sampler decides from it,
 * `parentbased_*`), everything the request does runs in its server span's context (store calls, fetches, every log
 * line), and its duration is recorded by route template.
 */
export function requestTelemetry(
  tracer: Tracer,
  instruments: RequestInstruments,
  table: Pick<RouteTable, 'match'>,
): Middleware<AuthState> {
  return async (ctx, next) => {
    const started = performance.now();
    const method = knownMethods.has(ctx.method) ? ctx.method : '_OTHER';
    const parent = propagation.extract(ROOT_CONTEXT, ctx.headers);
    // The samplers offered read no attributes; a request that is not sampled (most, at prod's ratio) builds none.
    const span = tracer.startSpan(method, { kind: SpanKind.SERVER }, parent);
    if (span.isRecording()) span.setAttributes(serverSpanAttributes(ctx, method));
    try {
      await context.with(trace.setSpan(parent, span), next);
    } finally {
      const route = table.match(ctx.path);
      const { status } = ctx;
      const refusal = ctx.state.authRefusal;
      instruments.requestDuration.record((performance.now() - started) / 1000, {
        'http.request.method': method,
        'http.route': route?.template ?? 'unmatched',
        'http.response.status_class': statusClass(status),
      });
      if (status === 503 && refusal === undefined && route?.usesStore) instruments.storeUnavailable.add(1);
      if (span.isRecording()) finishSpan(span, method, status, route?.template, refusal);
      span.end();
    }
  };
}

/** What is known once the answer is: OpenTelemetry's HTTP conventions, `{method} {http.route}`, or the method alone. */
function finishSpan(span: Span, method: string, status: number, route: string | undefined, refusal?: string): void {
  span.updateName(route ? `${method} ${route}` : method);
  span.setAttribute('http.response.status_code', status);
  if (route) span.setAttribute('http.route', route);
  if (refusal) span.setAttribute('product_service.auth.refusal', refusal);
  // A server span is an error for 5xx only; a 4xx is the client's (semantic conventions, HTTP spans).
  if (status >= 500) {
    span.setAttribute('error.type', String(status));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
}
