import { randomUUID } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { ChangeEvent, ChangeType, Outbox, OutboxEntry, PageKey, ProductRepository } from './contract.js';
import type { Product } from '../schema.js';
import { call, fromItem, fromItems, toItem, type StoreContext } from './client.js';

/**
 * Every change marks its product pending (`outboxState`, `outboxSince`) in the same write; the drain of the last
 * entry removes the mark. The pending index holds marked products only, so finding stranded entries is a query over
 * what is pending, never a scan of the table.
 */
export const pendingIndex = {
  name: 'PendingOutbox',
  partitionKey: 'outboxState',
  sortKey: 'outboxSince',
  pending: 'pending',
} as const;

/** The outbox map of an item as stored: entries keyed so that they sort in version order. */
export type StoredOutbox = Record<string, OutboxEntry>;

export function outboxOf(item: { readonly version: number; readonly outbox?: StoredOutbox | undefined }): Outbox {
  const entries = Object.entries(item.outbox ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, entry]) => ({ key, entry }));
  return { version: item.version, entries };
}

function eventKey(event: ChangeEvent): string {
  // Sorts by version, then is unique: the drainer publishes a product's events in order.
  return `${String(event.version).padStart(10, '0')}-${randomUUID()}`;
}

/** The outbox entry of a change to `product`, with its key, and the version it superseded for the history. */
export function entryFor(type: ChangeType, product: Product, superseded: Product | undefined): [string, OutboxEntry] {
  const event: ChangeEvent = { type, id: product.id, version: product.version, at: product.lastModified };
  // Only a product that is not deleted can change, so the version it replaces was never a deleted one.
  return [eventKey(event), { event, ...(superseded ? { superseded: { ...superseded, deleted: false } } : {}) }];
}

type OutboxCalls = Pick<ProductRepository, 'outbox' | 'pendingSince' | 'clearOutboxEntry'>;

/** The drainer's side of the outbox: read what is pending, find the stranded, clear what went out. */
export function outboxStore(store: StoreContext): OutboxCalls {
  const { client, productsTable } = store;
  return {
    async outbox(id, signal) {
      const { Item } = await call(signal, () =>
        client.send(
          new GetItemCommand({
            TableName: productsTable,
            Key: toItem({ id }),
            ConsistentRead: true,
            ProjectionExpression: '#version, outbox',
            ExpressionAttributeNames: { '#version': 'version' },
          }),
        ),
      );
      return Item
        ? outboxOf(fromItem(Item) as { version: number; outbox?: StoredOutbox })
        : { version: 0, entries: [] };
    },

    async pendingSince(before, limit, signal) {
      const ids: string[] = [];
      let start: PageKey | undefined;
      do {
        const page = await call(signal, () =>
          client.send(
            new QueryCommand({
              TableName: productsTable,
              IndexName: pendingIndex.name,
              KeyConditionExpression: '#state = :pending AND #since < :before',
              ExpressionAttributeNames: { '#state': pendingIndex.partitionKey, '#since': pendingIndex.sortKey },
              ExpressionAttributeValues: toItem({ ':pending': pendingIndex.pending, ':before': before.toISOString() }),
              Limit: limit - ids.length,
              ...(start ? { ExclusiveStartKey: toItem(start) } : {}),
            }),
          ),
        );
        for (const item of fromItems(page.Items)) ids.push(String(item['id']));
        start = page.LastEvaluatedKey ? (fromItem(page.LastEvaluatedKey) as PageKey) : undefined;
      } while (start && ids.length < limit);
      return ids;
    },

    async clearOutboxEntry(id, key, lastOf, signal) {
      if (lastOf !== undefined && (await clearLast(store, id, key, lastOf, signal))) return;
      await call(signal, () =>
        client.send(
          new UpdateItemCommand({
            TableName: productsTable,
            Key: toItem({ id }),
            UpdateExpression: 'REMOVE outbox.#key',
            ExpressionAttributeNames: { '#key': key },
          }),
        ),
      );
    },
  };
}

/**
 * Removes the last entry of the outbox as of version `lastOf`, and the pending mark with it, if the product is still
 * at that version: nothing newer was added, so the outbox is empty now. False when a newer change added its own
 * entry: the mark stays until that one is delivered.
 */
async function clearLast(
  { client, productsTable }: StoreContext,
  id: string,
  key: string,
  lastOf: number,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  try {
    await call(signal, () =>
      client.send(
        new UpdateItemCommand({
          TableName: productsTable,
          Key: toItem({ id }),
          UpdateExpression: 'REMOVE outbox.#key, #state, #since',
          ConditionExpression: '#version = :version',
          ExpressionAttributeNames: {
            '#key': key,
            '#version': 'version',
            '#state': pendingIndex.partitionKey,
            '#since': pendingIndex.sortKey,
          },
          ExpressionAttributeValues: toItem({ ':version': lastOf }),
        }),
      ),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}
