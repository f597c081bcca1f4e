// The service's metrics and span naming over OpenTelemetry. Imported by app.ts only when telemetry is configured.
// The names, units and attributes are a contract: the collector's awsemf exporter turns them into CloudWatch metrics
// in the ProductService namespace, and infra/'s alarms and dashboard name them (docs/operations.md lists them).
import { trace, type Attributes, type Meter } from '@opentelemetry/api';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { RefusalReason } from '@product-service/bearer';
import { requestTelemetry } from './request-spans.js';
import type { TelemetrySdk } from './sdk.js';
import type { Telemetry } from './telemetry.js';

/** Request durations in seconds: OpenTelemetry's advised boundaries for `http.server.request.duration`. */
const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** The instruments the service records into, each created once. */
function createInstruments(meter: Meter) {
  return {
    requestDuration: meter.createHistogram('http.server.request.duration', {
      unit: 's',
      description: 'Duration of HTTP server requests, by route template',
      advice: { explicitBucketBoundaries: durationBuckets },
    }),
    keySetFetches: meter.createCounter('product_service.keyset.fetches', {
      unit: '{fetch}',
      description: "Fetches of an issuer's JWKS, by outcome",
    }),
    storeDuration: meter.createHistogram('product_service.store.duration', {
      unit: 's',
      description: 'Duration of DynamoDB calls (every SDK attempt together), by operation and outcome',
      advice: { explicitBucketBoundaries: durationBuckets },
    }),
    storeConflicts: meter.createCounter('product_service.store.conflicts', {
      unit: '{conflict}',
      description: 'Conditional writes that lost a race: retried, or given up as the deadline ran out (exhausted)',
    }),
    storeUnavailable: meter.createCounter('product_service.store.unavailable', {
      unit: '{request}',
      description: 'Requests answered 503 because the store failed or missed its deadline',
    }),
    eventsPublished: meter.createCounter('product_service.events.published', {
      unit: '{event}',
      description: 'Change events handed to the publisher, by outcome',
    }),
  };
}
type Instruments = ReturnType<typeof createInstruments>;

export function createTelemetry(sdk: TelemetrySdk): Telemetry {
  const meter = sdk.meterProvider.getMeter('product-service');
  const instruments = createInstruments(meter);
  return {
    requests: (table) => requestTelemetry(sdk.tracerProvider.getTracer('product-service'), instruments, table),

    logFields() {
      const active = trace.getActiveSpan()?.spanContext();
      // A new object each time: pino merges the line's own fields into it.
      if (!active) return {};
      return { trace_id: active.traceId, span_id: active.spanId };
    },

    keySetEvent(event) {
      if (event.type === 'fetched') instruments.keySetFetches.add(1, { outcome: 'ok' });
      else if (event.type === 'fetch_failed') instruments.keySetFetches.add(1, { outcome: 'failed' });
    },

    storeConflict(outcome) {
      instruments.storeConflicts.add(1, { outcome });
    },

    instrumentStore: (client) => timeStoreCalls(client, instruments),

    countPublishes(publisher) {
      return {
        async publish(event) {
          try {
            await publisher.publish(event);
            instruments.eventsPublished.add(1, { outcome: 'published' });
          } catch (error) {
            instruments.eventsPublished.add(1, { outcome: 'failed' });
            throw error;
          }
        },
      };
    },

    observe: (sources) => observeAtCollection(meter, sources),

    shutdown: () => sdk.shutdown(),
  };
}

/** Times every call of the store client, per operation: outermost, so one measure per call, its retries within. */
function timeStoreCalls(client: DynamoDBClient, instruments: Instruments): void {
  client.middlewareStack.add(
    (next, handlerContext) => async (args) => {
      const started = performance.now();
      const attributes: Attributes = { 'db.operation.name': handlerContext.commandName?.replace(/Command$/, '') ?? '' };
      try {
        const output = await next(args);
        instruments.storeDuration.record((performance.now() - started) / 1000, { ...attributes, outcome: 'ok' });
        return output;
      } catch (error) {
        instruments.storeDuration.record((performance.now() - started) / 1000, { ...attributes, outcome: 'error' });
        throw error;
      }
    },
    { step: 'initialize', name: 'storeTelemetry', override: true },
  );
}

/** Read at collection from the very counters /metrics shows: the numbers agree, and a request pays nothing. */
function observeAtCollection(meter: Meter, sources: Parameters<Telemetry['observe']>[0]): void {
  const { authCounters, authenticator, drainer } = sources;
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
}
