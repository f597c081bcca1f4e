import { PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import type { ProductRepository, Snapshot } from './contract.js';
import { call, fromItems, toItem, type StoreContext } from './client.js';
import { getItem, toProduct } from './items.js';

type SnapshotCalls = Pick<ProductRepository, 'history' | 'putSnapshot'>;

/**
 * A product's history: the current version is always served from the products table, the superseded ones from the
 * snapshots table, where the drainer puts them.
 */
export function snapshotStore(store: StoreContext): SnapshotCalls {
  const { client, snapshotsTable } = store;
  return {
    async history(id, limit, after, signal) {
      const item = await getItem(store, id, signal);
      if (!item) return undefined;
      const current: Snapshot = { ...toProduct(item), deleted: item.deleted };
      // The cursor is the last version a page held; the first page starts with the current version.
      const below = after === undefined ? current.version + 1 : Number(after['version']);
      const items: Snapshot[] = below > current.version ? [current] : [];
      let more = current.version > 1;
      const wanted = limit - items.length;
      if (wanted > 0) {
        // One more than the page needs tells whether another page follows, so that no walk ends on an empty page.
        const page = await call(signal, () =>
          client.send(
            new QueryCommand({
              TableName: snapshotsTable,
              KeyConditionExpression: 'id = :id AND #version < :below',
              ExpressionAttributeNames: { '#version': 'version' },
              ExpressionAttributeValues: toItem({ ':id': id, ':below': Math.min(below, current.version) }),
              ScanIndexForward: false,
              Limit: wanted + 1,
            }),
          ),
        );
        const found = fromItems(page.Items) as unknown as Snapshot[];
        items.push(...found.slice(0, wanted));
        more = found.length > wanted;
      }
      const last = items[items.length - 1];
      return { items, next: more && last ? { id, version: last.version } : undefined };
    },

    async putSnapshot(snapshot, signal) {
      // Idempotent: a superseded (id, version) never changes, so a retried drain is harmless.
      await call(signal, () => client.send(new PutItemCommand({ TableName: snapshotsTable, Item: toItem(snapshot) })));
    },
  };
}
