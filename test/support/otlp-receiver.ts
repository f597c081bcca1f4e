import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A span as the receiver got it, from either encoding. Ids in hex. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: Record<string, unknown>;
  readonly events: readonly { readonly name: string; readonly attributes: Record<string, unknown> }[];
  readonly resource: Record<string, unknown>;
}

export interface ReceivedPoint {
  readonly attributes: Record<string, unknown>;
  /** A sum's or gauge's value, or a histogram's count. */
  readonly value: number;
}

export interface ReceivedMetric {
  readonly name: string;
  readonly unit: string;
  readonly type: 'gauge' | 'sum' | 'histogram' | 'exponential_histogram' | 'other';
  readonly points: readonly ReceivedPoint[];
  readonly resource: Record<string, unknown>;
}

export interface OtlpReceiver {
  /** The base URL, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  readonly spans: ReceivedSpan[];
  readonly metrics: ReceivedMetric[];
  /** Each POST's path and content type, in order. */
  readonly posts: { readonly path: string; readonly contentType: string }[];
  close(): Promise<void>;
}

// ---- OTLP/JSON (the protobuf JSON mapping: ids in hex, 64-bit integers as strings) ----

interface JsonAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: JsonAnyValue[] };
}
type JsonAttributes = { key: string; value: JsonAnyValue }[] | undefined;

function jsonValue(value: JsonAnyValue): unknown {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(jsonValue);
  return undefined;
}

function jsonAttributes(attributes: JsonAttributes): Record<string, unknown> {
  return Object.fromEntries((attributes ?? []).map(({ key, value }) => [key, jsonValue(value)]));
}

interface JsonPoint {
  attributes?: JsonAttributes;
  asDouble?: number;
  asInt?: string | number;
  count?: string | number;
}

function jsonTraces(body: unknown): ReceivedSpan[] {
  const request = body as {
    resourceSpans?: {
      resource?: { attributes?: JsonAttributes };
      scopeSpans?: {
        spans?: {
          traceId: string;
          spanId: string;
          parentSpanId?: string;
          name: string;
          kind: number;
          attributes?: JsonAttributes;
          events?: { name: string; attributes?: JsonAttributes }[];
        }[];
      }[];
    }[];
  };
  return (request.resourceSpans ?? []).flatMap(({ resource, scopeSpans }) =>
    (scopeSpans ?? []).flatMap(({ spans }) =>
      (spans ?? []).map((span) => ({
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId ?? '',
        name: span.name,
        kind: span.kind,
        attributes: jsonAttributes(span.attributes),
        events: (span.events ?? []).map((event) => ({
          name: event.name,
          attributes: jsonAttributes(event.attributes),
        })),
        resource: jsonAttributes(resource?.attributes),
      })),
    ),
  );
}

function jsonMetrics(body: unknown): ReceivedMetric[] {
  type Points = { dataPoints?: JsonPoint[] } | undefined;
  const request = body as {
    resourceMetrics?: {
      resource?: { attributes?: JsonAttributes };
      scopeMetrics?: {
        metrics?: {
          name: string;
          unit?: string;
          gauge?: Points;
          sum?: Points;
          histogram?: Points;
          exponentialHistogram?: Points;
        }[];
      }[];
    }[];
  };
  return (request.resourceMetrics ?? []).flatMap(({ resource, scopeMetrics }) =>
    (scopeMetrics ?? []).flatMap(({ metrics }) =>
      (metrics ?? []).map((metric) => {
        const type = metric.gauge
          ? 'gauge'
          : metric.sum
            ? 'sum'
            : metric.histogram
              ? 'histogram'
              : metric.exponentialHistogram
                ? 'exponential_histogram'
                : 'other';
        const points =
          (metric.gauge ?? metric.sum ?? metric.histogram ?? metric.exponentialHistogram)?.dataPoints ?? [];
        return {
          name: metric.name,
          unit: metric.unit ?? '',
          type,
          points: points.map((point) => ({
            attributes: jsonAttributes(point.attributes),
            value: Number(point.asDouble ?? point.asInt ?? point.count ?? Number.NaN),
          })),
          resource: jsonAttributes(resource?.attributes),
        };
      }),
    ),
  );
}

// ---- OTLP/protobuf: the wire format read by field number (opentelemetry-proto's trace.proto, metrics.proto) ----

type Field = bigint | Buffer;
type Message = Map<number, Field[]>;

function readVarint(buffer: Buffer, at: number): [bigint, number] {
  let value = 0n;
  let shift = 0n;
  for (;;) {
    const byte = buffer[at];
    if (byte === undefined) throw new Error('truncated varint');
    at += 1;
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [value, at];
    shift += 7n;
  }
}

function decode(buffer: Buffer): Message {
  const fields: Message = new Map();
  let at = 0;
  while (at < buffer.length) {
    const [tag, next] = readVarint(buffer, at);
    at = next;
    const number = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    let value: Field;
    if (wireType === 0) [value, at] = readVarint(buffer, at);
    else if (wireType === 1) [value, at] = [buffer.subarray(at, at + 8), at + 8];
    else if (wireType === 5) [value, at] = [buffer.subarray(at, at + 4), at + 4];
    else if (wireType === 2) {
      const [length, start] = readVarint(buffer, at);
      value = buffer.subarray(start, start + Number(length));
      at = start + Number(length);
    } else throw new Error(`wire type ${wireType} not expected in OTLP`);
    fields.set(number, [...(fields.get(number) ?? []), value]);
  }
  return fields;
}

const bytes = (message: Message, field: number): Buffer[] =>
  (message.get(field) ?? []).filter((value): value is Buffer => Buffer.isBuffer(value));
const first = (message: Message, field: number): Buffer | undefined => bytes(message, field)[0];
const text = (message: Message, field: number): string => first(message, field)?.toString('utf8') ?? '';
const hex = (message: Message, field: number): string => first(message, field)?.toString('hex') ?? '';
const varint = (message: Message, field: number): number => {
  const value = message.get(field)?.[0];
  return typeof value === 'bigint' ? Number(value) : 0;
};
const children = (message: Message, field: number): Message[] => bytes(message, field).map(decode);

function protoValue(value: Message): unknown {
  if (value.has(1)) return text(value, 1);
  if (value.has(2)) return varint(value, 2) === 1;
  if (value.has(3)) return Number(BigInt.asIntN(64, value.get(3)?.[0] as bigint));
  if (value.has(4)) return first(value, 4)?.readDoubleLE(0);
  if (value.has(5)) return children(decode(first(value, 5) ?? Buffer.alloc(0)), 1).map(protoValue);
  return undefined;
}

/** KeyValue: key = 1, value = 2 (AnyValue: string 1, bool 2, int 3, double 4, array 5). */
function protoAttributes(list: Message[]): Record<string, unknown> {
  return Object.fromEntries(list.map((pair) => [text(pair, 1), protoValue(decode(first(pair, 2) ?? Buffer.alloc(0)))]));
}

function protoTraces(body: Buffer): ReceivedSpan[] {
  // ExportTraceServiceRequest.resource_spans = 1; ResourceSpans: resource 1, scope_spans 2; ScopeSpans.spans = 2.
  return children(decode(body), 1).flatMap((resourceSpans) => {
    const resource = protoAttributes(children(decode(first(resourceSpans, 1) ?? Buffer.alloc(0)), 1));
    return children(resourceSpans, 2).flatMap((scopeSpans) =>
      // Span: trace_id 1, span_id 2, parent_span_id 4, name 5, kind 6, attributes 9, events 11 (name 2, attributes 3).
      children(scopeSpans, 2).map((span) => ({
        traceId: hex(span, 1),
        spanId: hex(span, 2),
        parentSpanId: hex(span, 4),
        name: text(span, 5),
        kind: varint(span, 6),
        attributes: protoAttributes(children(span, 9)),
        events: children(span, 11).map((event) => ({
          name: text(event, 2),
          attributes: protoAttributes(children(event, 3)),
        })),
        resource,
      })),
    );
  });
}

function protoMetrics(body: Buffer): ReceivedMetric[] {
  // ExportMetricsServiceRequest.resource_metrics = 1; ResourceMetrics: resource 1, scope_metrics 2; ScopeMetrics.metrics 2.
  return children(decode(body), 1).flatMap((resourceMetrics) => {
    const resource = protoAttributes(children(decode(first(resourceMetrics, 1) ?? Buffer.alloc(0)), 1));
    return children(resourceMetrics, 2).flatMap((scopeMetrics) =>
      // Metric: name 1, unit 3, gauge 5, sum 7, histogram 9; each holds data_points = 1.
      children(scopeMetrics, 2).map((metric) => {
        const type = metric.has(5) ? 'gauge' : metric.has(7) ? 'sum' : metric.has(9) ? 'histogram' : 'other';
        const data = first(metric, type === 'gauge' ? 5 : type === 'sum' ? 7 : 9);
        const points = data ? children(decode(data), 1) : [];
        return {
          name: text(metric, 1),
          unit: text(metric, 3),
          type,
          points: points.map((point) =>
            // HistogramDataPoint: count 4 (fixed64), attributes 9; NumberDataPoint: as_double 4, as_int 6, attributes 7.
            type === 'histogram'
              ? {
                  attributes: protoAttributes(children(point, 9)),
                  value: Number(first(point, 4)?.readBigUInt64LE(0) ?? Number.NaN),
                }
              : {
                  attributes: protoAttributes(children(point, 7)),
                  value: point.has(4)
                    ? (first(point, 4)?.readDoubleLE(0) ?? Number.NaN)
                    : Number(first(point, 6)?.readBigInt64LE(0) ?? Number.NaN),
                },
          ),
          resource,
        };
      }),
    );
  });
}

async function bodyOf(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** An OTLP/HTTP receiver on loopback, as a collector's `otlp` receiver is: it decodes both encodings. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const metrics: ReceivedMetric[] = [];
  const posts: { path: string; contentType: string }[] = [];
  const server = createServer((request, response) => {
    void bodyOf(request).then((body) => {
      const path = request.url ?? '';
      const contentType = request.headers['content-type'] ?? '';
      posts.push({ path, contentType });
      const json = contentType.startsWith('application/json');
      if (path === '/v1/traces') spans.push(...(json ? jsonTraces(JSON.parse(body.toString())) : protoTraces(body)));
      if (path === '/v1/metrics') {
        metrics.push(...(json ? jsonMetrics(JSON.parse(body.toString())) : protoMetrics(body)));
      }
      response.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      response.end(json ? '{}' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    metrics,
    posts,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
