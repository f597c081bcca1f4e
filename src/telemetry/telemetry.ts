import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Middleware } from 'koa';
import type { Authenticator, KeySetEvent } from '@product-service/bearer';
import type { AuthCounters, AuthState } from '@product-service/bearer-koa';
import type { RouteTable } from '../http/route.js';
import type { EventPublisher, OutboxDrainer } from '../products/events.js';
import type { ConflictOutcome } from '../products/service.js';

/** What the service measures, as the service sees it; the OpenTelemetry side lives in src/telemetry/instruments.ts. */
export interface Telemetry {
  /** Makes the server span (named by the route table's template) the context of everything the request does, and records its duration; undefined when off. */
  requests(table: Pick<RouteTable, 'match'>): Middleware<AuthState> | undefined;
  /** Fields for every log line (`trace_id`, `span_id` inside a traced request); undefined when off. */
  readonly logFields: (() => Record<string, string>) | undefined;
  keySetEvent(event: KeySetEvent): void;
  storeConflict(outcome: ConflictOutcome): void;
  /** Times every call of the store client, per operation, all of the SDK's attempts together. */
  instrumentStore(client: DynamoDBClient): void;
  countPublishes(publisher: EventPublisher): EventPublisher;
  /** Values read when metrics are collected: refusals by reason, stale key uses, the outbox backlog. */
  observe(sources: {
    readonly authCounters: AuthCounters;
    readonly authenticator: Pick<Authenticator, 'issuers'>;
    readonly drainer: Pick<OutboxDrainer, 'backlog'>;
  }): void;
  /** Exports what is buffered and stops the SDK. */
  shutdown(): Promise<void>;
}

/** Telemetry off: every hook does nothing, and no OpenTelemetry module is loaded. */
export const noTelemetry: Telemetry = {
  requests: () => undefined,
  logFields: undefined,
  keySetEvent: () => undefined,
  storeConflict: () => undefined,
  instrumentStore: () => undefined,
  countPublishes: (publisher) => publisher,
  observe: () => undefined,
  shutdown: () => Promise.resolve(),
};
