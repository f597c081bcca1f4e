// OpenTelemetry's own SDK with in-memory exporters, for tests that read the spans and metrics the service makes.
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import type { Config } from '../../src/config.js';
import { localTestConfig } from './local-config.js';
import { startTelemetry, type TelemetrySdk } from '../../src/telemetry/sdk.js';

export interface InMemoryTelemetry {
  readonly sdk: TelemetrySdk;
  /** Every span, as soon as it ends. */
  readonly spans: InMemorySpanExporter;
  /** What the reader's `forceFlush()` collected, cumulative. */
  readonly metrics: InMemoryMetricExporter;
  readonly reader: PeriodicExportingMetricReader;
}

/**
 * Starts the SDK as src/telemetry/register.ts does before the app. For the AWS SDK's spans, call it before the app's
 * modules are imported (import them with `await import(…)` after), so that the instrumentations patch the AWS SDK as
 * the app loads it. Metrics are collected only when a test asks (`reader.forceFlush()`).
 */
export function startInMemoryTelemetry(config: Config): InMemoryTelemetry {
  if (!config.telemetry) throw new Error('the config has no telemetry: set OTEL_EXPORTER_OTLP_ENDPOINT');
  const spans = new InMemorySpanExporter();
  const metrics = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter: metrics, exportIntervalMillis: 3_600_000 });
  const sdk = startTelemetry(config.telemetry, {
    spanProcessor: new SimpleSpanProcessor({ exporter: spans }),
    metricReader: reader,
  });
  return { sdk, spans, metrics, reader };
}

/** The local run's config with telemetry on, for `startInMemoryTelemetry`: the OTLP endpoint is never called. */
export function tracedLocalConfig(env: Record<string, string> = {}): Config {
  return localTestConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', ...env });
}
