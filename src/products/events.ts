import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Logger } from 'pino';
import type { ChangeEvent, Outbox, ProductRepository } from './repository.js';
import { failureFields } from '../log-fields.js';

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
   * whether everything pending went out. `outbox` is the outbox as a write just returned it; without it, it is read.
   */
  drain(id: string, outbox?: Outbox): Promise<boolean>;
  /** Drains every product whose outbox has been pending since before `before` (default: now). */
  drainPending(before?: Date): Promise<void>;
  /**
   * Drains everything pending now, then every `intervalMs` whatever has been pending for longer than `intervalMs`:
   * an entry a failure left behind (a publish that failed, a write whose answer was lost, a process that stopped) is
   * delivered within two intervals. Each round is a query of the pending index, never a scan of the table.
   */
  start(intervalMs: number): void;
  stop(): Promise<void>;
  /**
   * What this process knows is waiting: entries a write returned or a drain read, not yet delivered, and when the
   * oldest was written (epoch ms). Entries of other tasks count once a round here picks them up.
   */
  backlog(): Backlog;
}

export interface Backlog {
  readonly entries: number;
  readonly oldestAt: number | undefined;
}

/** What is known pending, summed: entries, and when the oldest was written. */
function backlogOf(pending: ReadonlyMap<string, Outbox['entries']>): Backlog {
  let entries = 0;
  let oldestAt: number | undefined;
  for (const held of pending.values()) {
    entries += held.length;
    const at = held[0] ? Date.parse(held[0].entry.event.at) : Number.NaN;
    if (!Number.isNaN(at) && (oldestAt === undefined || at < oldestAt)) oldestAt = at;
  }
  return { entries, oldestAt };
}

/** Drains every product whose outbox has been pending since before `before`, a query of the pending index a page at a time. */
async function drainStranded(
  deps: {
    readonly repository: ProductRepository;
    readonly logger: Logger;
    readonly drain: (id: string) => Promise<boolean>;
    readonly signal: AbortSignal;
  },
  before: Date,
): Promise<void> {
  const { repository, logger, drain, signal } = deps;
  try {
    const seen = new Set<string>();
    for (;;) {
      // What a round could not deliver stays pending (and in the index): skip it, or the round would loop on it.
      const ids = (await repository.pendingSince(before, 100 + seen.size, signal)).filter((id) => !seen.has(id));
      if (ids.length === 0) return;
      let delivered = false;
      for (const id of ids) {
        seen.add(id);
        delivered = (await drain(id)) || delivered;
      }
      // Nothing went out (the publisher is down, say): leave the rest to the next round.
      if (!delivered) return;
    }
  } catch (error) {
    logger.warn({ failure: failureFields(error) }, 'outbox round failed; the next one tries again');
  }
}

/**
 * The transactional outbox, on a single item: every change writes its event, and the version it superseded, into the
 * product item in the same conditional write, so a change is never stored without them. The drainer then writes the
 * superseded version to the history, publishes the event and removes the entry, in that order; a failure leaves the
 * entry for the next drain. Delivery is therefore at least once, in version order per product (a drainer publishes a
 * version only after every earlier one went out); a subscriber deduplicates on (id, version). A create supersedes
 * nothing, so it costs two store calls: the put and the removal.
 */
export function createOutboxDrainer(deps: {
  repository: ProductRepository;
  publisher: EventPublisher;
  logger: Logger;
  now?: () => Date;
}): OutboxDrainer {
  const { repository, publisher, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const running = new Map<string, Promise<boolean>>();
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> | undefined;
  // Stopping cuts store calls short: what was not delivered stays pending, for the next round of any process.
  const stopping = new AbortController();
  const { signal } = stopping;
  /** Per product, the entries known pending: what backlog() sums. */
  const pending = new Map<string, Outbox['entries']>();

  function note(id: string, entries: Outbox['entries']): void {
    if (entries.length > 0) pending.set(id, entries);
    else pending.delete(id);
  }

  async function drainOnce(id: string, known: Outbox | undefined): Promise<void> {
    const { version, entries } = known ?? (await repository.outbox(id, signal));
    note(id, entries);
    for (const [i, { key, entry }] of entries.entries()) {
      if (entry.superseded) await repository.putSnapshot(entry.superseded, signal);
      await publisher.publish(entry.event);
      await repository.clearOutboxEntry(id, key, i === entries.length - 1 ? version : undefined, signal);
      note(id, entries.slice(i + 1));
    }
  }

  function drain(id: string, outbox?: Outbox): Promise<boolean> {
    // One drain per product at a time keeps its events in order. Behind another drain, the entries a write returned
    // may already be delivered, so read the outbox afresh then.
    const previous = running.get(id);
    const known = previous === undefined ? outbox : undefined;
    if (outbox && !pending.has(id)) note(id, outbox.entries);
    const next = (previous ?? Promise.resolve())
      .then(() => drainOnce(id, known))
      .then(
        () => true,
        (error: unknown) => {
          logger.warn({ failure: failureFields(error), productId: id }, 'outbox entry kept for retry');
          return false;
        },
      )
      .finally(() => {
        if (running.get(id) === next) running.delete(id);
      });
    running.set(id, next);
    return next;
  }

  const drainPending = (before: Date = now()) => drainStranded({ repository, logger, drain, signal }, before);

  return {
    drain,
    drainPending,
    backlog: () => backlogOf(pending),
    start(intervalMs) {
      round = drainPending().finally(() => (round = undefined));
      timer = setInterval(() => {
        round ??= drainPending(new Date(now().getTime() - intervalMs)).finally(() => (round = undefined));
      }, intervalMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      stopping.abort();
      await round;
      await Promise.all(running.values());
    },
  };
}
