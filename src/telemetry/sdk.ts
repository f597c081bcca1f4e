// The OpenTelemetry SDK of a process, made only when telemetry is configured: src/telemetry/register.ts imports this
// module (and with it every OpenTelemetry package) only then.
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtobufMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations, type Instrumentation } from '@opentelemetry/instrumentation';
import { AwsInstrumentation } from '@opentelemetry/instrumentation-aws-sdk';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationType,
  InstrumentType,
  MeterProvider,
  PeriodicExportingMetricReader,
  type MetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { TelemetryConfig } from '../config.js';

/** The providers a process exports through, and the one call that flushes and stops them. */
export interface TelemetrySdk {
  readonly tracerProvider: TracerProvider;
  readonly meterProvider: MeterProvider;
  /** Exports what is buffered (spans, the last metric values) and stops; at SIGTERM, within the drain. */
  shutdown(): Promise<void>;
}

export interface TelemetryOverrides {
  /** Instead of a batch processor exporting over OTLP (a test's in-memory exporter). */
  readonly spanProcessor?: SpanProcessor;
  /** Instead of a periodic OTLP export (a test's reader that collects on demand). */
  readonly metricReader?: MetricReader;
}

function samplerOf(config: TelemetryConfig): Sampler {
  const ratio = new TraceIdRatioBasedSampler(config.samplerRatio);
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
  }
}

function spanExporterOf(config: TelemetryConfig) {
  const options = { url: `${config.endpoint}/v1/traces` };
  return config.protocol === 'http/json' ? new JsonTraceExporter(options) : new ProtobufTraceExporter(options);
}

function metricExporterOf(config: TelemetryConfig) {
  // The exporters read OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE themselves, but not the histogram setting.
  const exponential = config.histogramAggregation === 'base2_exponential_bucket_histogram';
  const options = {
    url: `${config.endpoint}/v1/metrics`,
    aggregationPreference: (instrument: InstrumentType) =>
      exponential && instrument === InstrumentType.HISTOGRAM
        ? { type: AggregationType.EXPONENTIAL_HISTOGRAM }
        : { type: AggregationType.DEFAULT },
  };
  return config.protocol === 'http/json' ? new JsonMetricExporter(options) : new ProtobufMetricExporter(options);
}

/**
 * The instrumentations: outbound fetch (the issuer's discovery and JWKS) and the AWS SDK (DynamoDB, SNS, whose Publish
 * carries `traceparent` in its message attributes). The server span of each request is not instrumentation-http's but
 * src/telemetry/request-spans.ts's Koa middleware, which names it from the route table: instrumentation-http binds every
 * request's and response's event emitters to the trace context, which cost 30 % more CPU per request against 13 % for
 * the same spans made in the middleware (docs/benchmarks.md, "What tracing costs"). Koa's own instrumentation is
 * unmaintained. At prod's 5 % sampling, instrumentation-aws-sdk is about half of what tracing costs the requests that
 * are not sampled: it normalizes each call's request, builds its attributes and asks the sampler for a span before
 * the parent's decision drops it, and it has no option to skip that work for an unsampled parent.
 */
function instrumentations(): Instrumentation[] {
  return [
    new UndiciInstrumentation({ headersToSpanAttributes: { requestHeaders: [], responseHeaders: [] } }),
    new AwsInstrumentation({ suppressInternalInstrumentation: true }),
  ];
}

let started: TelemetrySdk | undefined;

/** The SDK this process started (at `--import`, before the app), if any. */
export function startedTelemetry(): TelemetrySdk | undefined {
  return started;
}

/**
 * Starts tracing and metrics: the global tracer provider (which the instrumentations use), W3C trace context, a
 * meter provider that only the service's own instruments use (so instrumentation-http's metric, with raw
 * attributes, is never exported under the contract's name). Call once, before the app's modules are imported.
 */
export function startTelemetry(config: TelemetryConfig, overrides: TelemetryOverrides = {}): TelemetrySdk {
  if (started) return started;
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName });
  const spanProcessor = overrides.spanProcessor ?? new BatchSpanProcessor({ exporter: spanExporterOf(config) });
  const tracerProvider = new TracerProvider({ resource, sampler: samplerOf(config), spanProcessors: [spanProcessor] });
  const metricReader =
    overrides.metricReader ??
    new PeriodicExportingMetricReader({
      exporter: metricExporterOf(config),
      exportIntervalMillis: config.metricExportIntervalMs,
      exportTimeoutMillis: Math.min(30_000, config.metricExportIntervalMs),
    });
  const meterProvider = new MeterProvider({ resource, readers: [metricReader] });

  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(tracerProvider);
  registerInstrumentations({ instrumentations: instrumentations(), tracerProvider });

  const sdk: TelemetrySdk = {
    tracerProvider,
    meterProvider,
    async shutdown() {
      await Promise.allSettled([tracerProvider.shutdown(), meterProvider.shutdown()]);
    },
  };
  started = sdk;
  return sdk;
}
