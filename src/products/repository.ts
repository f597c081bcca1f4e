import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ProductRepository } from './store/contract.js';
import type { StoreContext } from './store/client.js';
import { itemStore } from './store/items.js';
import { outboxStore } from './store/outbox.js';
import { snapshotStore } from './store/snapshots.js';

export type * from './store/contract.js';
export { pendingIndex } from './store/outbox.js';

export interface RepositoryOptions {
  readonly client: DynamoDBClient;
  readonly productsTable: string;
  readonly snapshotsTable: string;
  readonly now?: () => Date;
}

/** The products store, the only code that speaks DynamoDB (store/): items, the outbox, the snapshots, put together. */
export function createProductRepository(options: RepositoryOptions): ProductRepository {
  const store: StoreContext = {
    client: options.client,
    productsTable: options.productsTable,
    snapshotsTable: options.snapshotsTable,
    now: options.now ?? (() => new Date()),
  };
  return { ...itemStore(store), ...snapshotStore(store), ...outboxStore(store) };
}
