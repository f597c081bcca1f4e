import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Logger } from 'pino';
import type { ChangeEvent, PendingEntries, ProductRepository } from './repository.js';

export interface EventPublisher {
  publish(event: ChangeEvent): Promise<void>;
}

/** Publishes to SNS, with the change type as a message attribute so that subscribers can filter on it. */
export function createSnsPublisher(client: SNSClient, topicArn: string): EventPublisher {
  return {
    async publish(event) {
      await client.send(
        new PublishCommand({
          TopicArn: topicArn,
          Message: JSON.stringify(event),
          MessageAttributes: { type: { DataType: 'String', StringValue: event.type } },
        }),
      );
    },
  };
}

/** Without a topic, events are logged: the outbox still works the same way. */
export function createLogPublisher(logger: Logger): EventPublisher {
  return {
    publish(event) {
      logger.info({ event }, 'product changed');
      return Promise.resolve();
    },
  };
}

export interface OutboxDrainer {
  /**
   * Writes the product's pending snapshots and publishes its pending events, in order. Never throws; resolves to
   * whether everything pending went out. `pending` is the outbox as a write just returned it; without it the outbox
   * is read.
   */
  drain(id: string, pending?: PendingEntries): Promise<boolean>;
  /** Drains every product with pending entries: one scan of the products table (after a crash, or too many failures). */
  drainAll(): Promise<void>;
  /**
   * Sweeps the table once now (a process that stopped abruptly may have left entries behind), then every
   * `intervalMs` retries the products whose drain failed. The table is scanned again only if more products failed
   * than are remembered, or a sweep failed: never as a matter of routine.
   */
  start(intervalMs: number): void;
  stop(): Promise<void>;
}

/**
 * The transactional outbox, on a single item: every change writes its event, and the version it superseded, into the
 * product item in the same conditional write, so a change is never stored without them. The drainer then writes the
 * superseded version to the history, publishes the event and removes the entry, in that order; a failure leaves the
 * entry for the next drain. Delivery is therefore at least once, in version order per product; a subscriber
 * deduplicates on (id, version). A create supersedes nothing, so it costs two store calls: the put and the removal.
 */
export function createOutboxDrainer(deps: {
  repository: ProductRepository;
  publisher: EventPublisher;
  logger: Logger;
  /** How many products with a failed drain are remembered for retry; beyond that, the next retry is a full sweep. */
  maxRemembered?: number;
}): OutboxDrainer {
  const { repository, publisher, logger } = deps;
  const maxRemembered = deps.maxRemembered ?? 10_000;
  const running = new Map<string, Promise<boolean>>();
  const failed = new Set<string>();
  let sweepNeeded = false;
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;

  async function drainOnce(id: string, pending: PendingEntries | undefined): Promise<void> {
    for (const { key, entry } of pending ?? (await repository.outbox(id))) {
      if (entry.superseded) await repository.putSnapshot(entry.superseded);
      await publisher.publish(entry.event);
      await repository.clearOutboxEntry(id, key);
    }
  }

  function remember(id: string): void {
    if (failed.has(id) || failed.size < maxRemembered) failed.add(id);
    else sweepNeeded = true;
  }

  function drain(id: string, pending?: PendingEntries): Promise<boolean> {
    // One drain per product at a time keeps its events in order. Behind another drain, the entries a write returned
    // may already be delivered, so read the outbox afresh then.
    const previous = running.get(id);
    const known = previous === undefined ? pending : undefined;
    const next = (previous ?? Promise.resolve())
      .then(() => drainOnce(id, known))
      .then(
        () => {
          failed.delete(id);
          return true;
        },
        (error: unknown) => {
          remember(id);
          logger.warn({ err: error, productId: id }, 'outbox entry kept for retry');
          return false;
        },
      )
      .finally(() => {
        if (running.get(id) === next) running.delete(id);
      });
    running.set(id, next);
    return next;
  }

  async function drainAll(): Promise<void> {
    try {
      let ids: readonly string[];
      do {
        ids = await repository.withPendingOutbox(100);
        let delivered = false;
        for (const id of ids) delivered = (await drain(id)) || delivered;
        // Nothing of this page went out (the publisher is down, say): reading on would find the same page again, so
        // sweep again on a later round instead.
        if (ids.length > 0 && !delivered) {
          sweepNeeded = true;
          return;
        }
      } while (ids.length === 100);
    } catch (error) {
      sweepNeeded = true;
      logger.warn({ err: error }, 'outbox sweep failed');
    }
  }

  async function retry(): Promise<void> {
    if (sweepNeeded) {
      sweepNeeded = false;
      await drainAll();
      return;
    }
    for (const id of [...failed]) await drain(id);
  }

  return {
    drain,
    drainAll,
    start(intervalMs) {
      sweeping = drainAll().finally(() => (sweeping = undefined));
      timer = setInterval(() => {
        sweeping ??= retry().finally(() => (sweeping = undefined));
      }, intervalMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await sweeping;
      await Promise.all(running.values());
    },
  };
}
