import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { ChangeType, IdempotencyRecord, Page, PageKey, ProductRepository, Signal, Written } from './contract.js';
import { productFieldNames, type Product, type ProductFields } from '../schema.js';
import { call, fromItem, fromItems, toItem, type StoreContext } from './client.js';
import { entryFor, outboxOf, pendingIndex, type StoredOutbox } from './outbox.js';

const productAttributes = ['id', 'version', 'lastModified', ...productFieldNames];

/** A products-table item: the product, whether it is deleted, its pending outbox and its idempotency record. */
export interface Item extends Product {
  deleted: boolean;
  outbox?: StoredOutbox;
  idempotency?: IdempotencyRecord;
}

/** The product as the schema has it: whatever else the item holds (outbox, markers) stays in the store. */
export function toProduct(item: Item): Product {
  const product: Record<string, unknown> = {};
  for (const name of productAttributes) {
    if (item[name as keyof Item] !== undefined) product[name] = item[name as keyof Item];
  }
  return product as unknown as Product;
}

export async function getItem(
  { client, productsTable }: StoreContext,
  id: string,
  signal: Signal,
): Promise<Item | undefined> {
  // The whole item: its outbox is empty once drained, and a projection costs the store more than those bytes.
  const { Item } = await call(signal, () =>
    client.send(new GetItemCommand({ TableName: productsTable, Key: toItem({ id }), ConsistentRead: true })),
  );
  return Item ? (fromItem(Item) as unknown as Item) : undefined;
}

/** Client fields an update sets or removes, as expression fragments with their names and values. */
interface FieldChange {
  readonly set: string[];
  readonly remove: string[];
  readonly names: Record<string, string>;
  readonly values: Record<string, unknown>;
}

const noFieldChange: FieldChange = { set: [], remove: [], names: {}, values: {} };

function fieldChange(fields: ProductFields): FieldChange {
  const change: FieldChange = { set: [], remove: [], names: {}, values: {} };
  productFieldNames.forEach((field, i) => {
    change.names[`#f${i}`] = field;
    if (fields[field] === undefined) {
      change.remove.push(`#f${i}`);
    } else {
      change.set.push(`#f${i} = :f${i}`);
      change.values[`:f${i}`] = fields[field];
    }
  });
  return change;
}

/**
 * Writes `product` as the next version, with its outbox entry and the pending mark, only if the stored product is
 * still at `current.version` and not deleted: the optimistic lock every change goes through.
 */
async function writeNextVersion(
  { client, productsTable }: StoreContext,
  type: ChangeType,
  current: Product,
  product: Product,
  change: FieldChange,
  signal: Signal,
): Promise<Written | 'conflict'> {
  const [key, entry] = entryFor(type, product, current);
  const set = [
    '#version = :next',
    'lastModified = :lastModified',
    '#deleted = :deleted',
    '#outbox.#key = :entry',
    '#state = :pending',
    '#since = if_not_exists(#since, :lastModified)',
  ];
  const remove = change.remove.length > 0 ? ` REMOVE ${change.remove.join(', ')}` : '';
  try {
    const { Attributes } = await call(signal, () =>
      client.send(
        new UpdateItemCommand({
          TableName: productsTable,
          Key: toItem({ id: product.id }),
          // The whole outbox as this write left it: pending entries of earlier changes come along, in order.
          ReturnValues: 'ALL_NEW',
          UpdateExpression: `SET ${[...set, ...change.set].join(', ')}${remove}`,
          ConditionExpression: '#version = :expected AND #deleted = :false',
          ExpressionAttributeNames: {
            '#version': 'version',
            '#deleted': 'deleted',
            '#outbox': 'outbox',
            '#key': key,
            '#state': pendingIndex.partitionKey,
            '#since': pendingIndex.sortKey,
            ...change.names,
          },
          ExpressionAttributeValues: toItem({
            ':expected': current.version,
            ':next': product.version,
            ':lastModified': product.lastModified,
            ':deleted': type === 'deleted',
            ':false': false,
            ':entry': entry,
            ':pending': pendingIndex.pending,
            ...change.values,
          }),
        }),
      ),
    );
    const written = Attributes ? (fromItem(Attributes) as Pick<Item, 'outbox'>) : undefined;
    return { product, outbox: outboxOf({ version: product.version, ...written }) };
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return 'conflict';
    throw error;
  }
}

type ItemCalls = Pick<ProductRepository, 'create' | 'get' | 'update' | 'softDelete' | 'list'>;

/** The products table's items: a product, its version and deletion, written with their outbox entries. */
export function itemStore(store: StoreContext): ItemCalls {
  const { client, productsTable, now } = store;
  return {
    async create(product, idempotency, signal) {
      const [key, entry] = entryFor('created', product, undefined);
      try {
        await call(signal, () =>
          client.send(
            new PutItemCommand({
              TableName: productsTable,
              Item: toItem({
                ...product,
                deleted: false,
                outbox: { [key]: entry },
                [pendingIndex.partitionKey]: pendingIndex.pending,
                [pendingIndex.sortKey]: product.lastModified,
                ...(idempotency ? { idempotency } : {}),
              }),
              ConditionExpression: 'attribute_not_exists(id)',
            }),
          ),
        );
      } catch (error) {
        // An item with this id exists: an earlier attempt of this very write (the SDK retried after a timeout), or,
        // with an Idempotency-Key, an earlier request. The service reads it and decides.
        if (error instanceof ConditionalCheckFailedException) return 'exists';
        throw error;
      }
      return { product, outbox: { version: product.version, entries: [{ key, entry }] } };
    },

    async get(id, signal) {
      const item = await getItem(store, id, signal);
      return item
        ? { product: toProduct(item), deleted: item.deleted, outbox: outboxOf(item), idempotency: item.idempotency }
        : undefined;
    },

    async update(current, fields, signal) {
      const product: Product = {
        ...fields,
        id: current.id,
        version: current.version + 1,
        lastModified: now().toISOString(),
      };
      return writeNextVersion(store, 'updated', current, product, fieldChange(fields), signal);
    },

    async softDelete(current, signal) {
      const product: Product = { ...current, version: current.version + 1, lastModified: now().toISOString() };
      return writeNextVersion(store, 'deleted', current, product, noFieldChange, signal);
    },

    list: (limit, after, signal) => listItems(store, limit, after, signal),
  };
}

/**
 * A page of products that are not deleted. A scan page may hold deleted products, which the filter drops; keep
 * scanning until the page is full, and continue from the last product *returned*, so that nothing is skipped or
 * repeated.
 */
async function listItems(
  { client, productsTable }: StoreContext,
  limit: number,
  after: PageKey | undefined,
  signal: Signal,
): Promise<Page<Product>> {
  const items: Product[] = [];
  let start = after;
  for (;;) {
    const page = await call(signal, () =>
      client.send(
        new ScanCommand({
          TableName: productsTable,
          Limit: Math.max(limit - items.length, 10),
          ...(start ? { ExclusiveStartKey: toItem(start) } : {}),
          FilterExpression: '#deleted = :false',
          ProjectionExpression: productAttributes.map((_, i) => `#p${i}`).join(', '),
          ExpressionAttributeNames: {
            '#deleted': 'deleted',
            ...Object.fromEntries(productAttributes.map((name, i) => [`#p${i}`, name])),
          },
          ExpressionAttributeValues: toItem({ ':false': false }),
        }),
      ),
    );
    const found = fromItems(page.Items) as unknown as Item[];
    for (const [i, item] of found.entries()) {
      items.push(toProduct(item));
      if (items.length === limit) {
        const more = i < found.length - 1 || page.LastEvaluatedKey !== undefined;
        return { items, next: more ? { id: item.id } : undefined };
      }
    }
    if (!page.LastEvaluatedKey) return { items, next: undefined };
    start = fromItem(page.LastEvaluatedKey) as PageKey;
  }
}
