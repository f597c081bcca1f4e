import { randomBytes, randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Product, ProductFields } from './schema.js';

export type ChangeType = 'created' | 'updated' | 'deleted';

/** What subscribers are told: which product changed, to which version, when. */
export interface ChangeEvent {
  readonly type: ChangeType;
  readonly id: string;
  readonly version: number;
  readonly at: string;
}

export interface Snapshot extends Product {
  readonly deleted: boolean;
}

/** Written in the same single-item write as the change it describes, so that a change never loses its event. */
export interface OutboxEntry {
  readonly event: ChangeEvent;
  /**
   * The version this change replaced, for the history table. A create replaces nothing: the current version is
   * always served from the products table, so the history table holds superseded versions only.
   */
  readonly superseded?: Snapshot;
}

/** Outbox entries still to deliver, oldest first, each with its key in the product's outbox map. */
export type PendingEntries = readonly { readonly key: string; readonly entry: OutboxEntry }[];

/** A write's result: the product, and the outbox as that very write left it (so no extra read is needed). */
export interface Written {
  readonly product: Product;
  readonly pending: PendingEntries;
}

export interface StoredProduct {
  readonly product: Product;
  readonly deleted: boolean;
}

export type PageKey = Record<string, string | number>;

/**
 * The store did not answer, or answered that it cannot now (throttling, a 5xx, a timeout, a refused connection),
 * after the SDK's own retries. Follows Koa's error convention, so the service answers 503 with `Retry-After`.
 */
export class StoreUnavailable extends Error {
  readonly status = 503;
  readonly expose = true;
  readonly retryAfterSeconds = 1;

  constructor(cause: unknown) {
    super('the product store is not available now; try again', { cause });
    this.name = 'StoreUnavailable';
  }
}

const networkErrors = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
const transientErrors = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TimeoutError',
]);

/** Whether an error from the SDK means "not now" rather than "never": the caller may retry the same request. */
function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { $metadata, $retryable, code } = error as {
    $metadata?: { httpStatusCode?: number };
    $retryable?: unknown;
    code?: unknown;
  };
  return (
    transientErrors.has(error.name) ||
    $retryable !== undefined ||
    ($metadata?.httpStatusCode ?? 0) >= 500 ||
    (typeof code === 'string' && networkErrors.has(code))
  );
}

export interface Page<T> {
  readonly items: readonly T[];
  /** The key to continue after, or undefined on the last page. */
  readonly next: PageKey | undefined;
}

export interface ProductRepository {
  create(fields: ProductFields): Promise<Written>;
  get(id: string): Promise<StoredProduct | undefined>;
  /** Stores `fields` as the next version of `current` if the stored product is still at `current.version`. */
  update(current: Product, fields: ProductFields): Promise<Written | 'conflict'>;
  /** Marks `current` deleted, as its next version, if the stored product is still at `current.version`. */
  softDelete(current: Product): Promise<Written | 'conflict'>;
  list(limit: number, after: PageKey | undefined): Promise<Page<Product>>;
  /** Every version, newest first: the current one, then the superseded ones. `undefined`: no such product. */
  history(id: string, limit: number, after: PageKey | undefined): Promise<Page<Snapshot> | undefined>;
  putSnapshot(snapshot: Snapshot): Promise<void>;
  /** Pending outbox entries of one product, oldest first. */
  outbox(id: string): Promise<PendingEntries>;
  /** Ids of products that have pending outbox entries. */
  withPendingOutbox(limit: number): Promise<readonly string[]>;
  clearOutboxEntry(id: string, eventId: string): Promise<void>;
}

export interface RepositoryOptions {
  readonly client: DynamoDBClient;
  readonly productsTable: string;
  readonly snapshotsTable: string;
  readonly now?: () => Date;
}

const clientFields = ['name', 'imageURL', 'description', 'price', 'tags'] as const;
const productProjection = ['id', 'version', 'lastModified', 'deleted', ...clientFields];

interface Item extends Product {
  deleted: boolean;
  outbox?: Record<string, OutboxEntry>;
}

function toProduct(item: Item): Product {
  const { deleted: _deleted, outbox: _outbox, ...product } = item;
  return product;
}

/** Client fields an update sets or removes, as expression fragments with their names and values. */
interface FieldChange {
  readonly set: string[];
  readonly remove: string[];
  readonly names: Record<string, string>;
  readonly values: Record<string, unknown>;
}

function pendingOf(outbox: Record<string, OutboxEntry> | undefined): PendingEntries {
  return Object.entries(outbox ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, entry]) => ({ key, entry }));
}

function eventKey(event: ChangeEvent): string {
  // Sorts by version, then is unique: the drainer publishes a product's events in order.
  return `${String(event.version).padStart(10, '0')}-${randomUUID()}`;
}

/** The only module that speaks DynamoDB: handlers never build an expression. */
export function createProductRepository(options: RepositoryOptions): ProductRepository {
  const documents = DynamoDBDocumentClient.from(options.client, {
    marshallOptions: { removeUndefinedValues: true },
  });
  // Outermost step, so it sees what is left after the SDK's own retries: an unavailable store becomes one error type.
  documents.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        throw isUnavailable(error) ? new StoreUnavailable(error) : error;
      }
    },
    { step: 'initialize', name: 'storeUnavailable', override: true },
  );
  const now = options.now ?? (() => new Date());
  const { productsTable, snapshotsTable } = options;

  function entryFor(type: ChangeType, product: Product, superseded: Product | undefined): [string, OutboxEntry] {
    const event: ChangeEvent = { type, id: product.id, version: product.version, at: product.lastModified };
    // Only a product that is not deleted can change, so the version it replaces was never a deleted one.
    return [eventKey(event), { event, ...(superseded ? { superseded: { ...superseded, deleted: false } } : {}) }];
  }

  async function getItem(id: string): Promise<Item | undefined> {
    // The whole item: its outbox is empty once drained, and a projection costs the store more than those bytes.
    const { Item } = await documents.send(
      new GetCommand({ TableName: productsTable, Key: { id }, ConsistentRead: true }),
    );
    return Item as Item | undefined;
  }

  /**
   * Writes `product` as the next version, with its outbox entry, only if the stored product is still at
   * `expectedVersion` and not deleted: the optimistic lock every change goes through.
   */
  async function writeNextVersion(
    type: ChangeType,
    current: Product,
    product: Product,
    change: FieldChange,
  ): Promise<Written | 'conflict'> {
    const expectedVersion = current.version;
    const deleted = type === 'deleted';
    const [key, entry] = entryFor(type, product, current);
    const set = ['#version = :next', 'lastModified = :lastModified', '#deleted = :deleted', '#outbox.#key = :entry'];
    const remove = change.remove.length > 0 ? ` REMOVE ${change.remove.join(', ')}` : '';
    try {
      const { Attributes } = await documents.send(
        new UpdateCommand({
          TableName: productsTable,
          Key: { id: product.id },
          // The whole outbox as this write left it: pending entries of earlier changes come along, in order.
          ReturnValues: 'ALL_NEW',
          UpdateExpression: `SET ${[...set, ...change.set].join(', ')}${remove}`,
          ConditionExpression: '#version = :expected AND #deleted = :false',
          ExpressionAttributeNames: {
            '#version': 'version',
            '#deleted': 'deleted',
            '#outbox': 'outbox',
            '#key': key,
            ...change.names,
          },
          ExpressionAttributeValues: {
            ':expected': expectedVersion,
            ':next': product.version,
            ':lastModified': product.lastModified,
            ':deleted': deleted,
            ':false': false,
            ':entry': entry,
            ...change.values,
          },
        }),
      );
      return { product, pending: pendingOf((Attributes as Pick<Item, 'outbox'> | undefined)?.outbox) };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'conflict';
      throw error;
    }
  }

  return {
    async create(fields) {
      const product: Product = {
        ...fields,
        id: randomBytes(16).toString('base64url'),
        version: 1,
        lastModified: now().toISOString(),
      };
      const [key, entry] = entryFor('created', product, undefined);
      await documents.send(
        new PutCommand({
          TableName: productsTable,
          Item: { ...product, deleted: false, outbox: { [key]: entry } },
          ConditionExpression: 'attribute_not_exists(id)',
        }),
      );
      return { product, pending: [{ key, entry }] };
    },

    async get(id) {
      const item = await getItem(id);
      return item ? { product: toProduct(item), deleted: item.deleted } : undefined;
    },

    async update(current, fields) {
      const product: Product = {
        ...fields,
        id: current.id,
        version: current.version + 1,
        lastModified: now().toISOString(),
      };
      const change: FieldChange = { set: [], remove: [], names: {}, values: {} };
      clientFields.forEach((field, i) => {
        change.names[`#f${i}`] = field;
        if (fields[field] === undefined) {
          change.remove.push(`#f${i}`);
        } else {
          change.set.push(`#f${i} = :f${i}`);
          change.values[`:f${i}`] = fields[field];
        }
      });
      return writeNextVersion('updated', current, product, change);
    },

    async softDelete(current) {
      const product: Product = { ...current, version: current.version + 1, lastModified: now().toISOString() };
      return writeNextVersion('deleted', current, product, { set: [], remove: [], names: {}, values: {} });
    },

    async list(limit, after) {
      // A scan page may hold deleted products, which the filter drops; keep scanning until the page is full, and
      // continue from the last product *returned*, so that nothing is skipped or repeated.
      const items: Product[] = [];
      let start = after;
      for (;;) {
        const page = await documents.send(
          new ScanCommand({
            TableName: productsTable,
            Limit: Math.max(limit - items.length, 10),
            ...(start ? { ExclusiveStartKey: start } : {}),
            FilterExpression: '#deleted = :false',
            ProjectionExpression: productProjection.map((_, i) => `#p${i}`).join(', '),
            ExpressionAttributeNames: {
              '#deleted': 'deleted',
              ...Object.fromEntries(productProjection.map((name, i) => [`#p${i}`, name])),
            },
            ExpressionAttributeValues: { ':false': false },
          }),
        );
        for (const item of (page.Items ?? []) as Item[]) {
          items.push(toProduct(item));
          if (items.length === limit) {
            const more = item !== page.Items?.[page.Items.length - 1] || page.LastEvaluatedKey !== undefined;
            return { items, next: more ? { id: item.id } : undefined };
          }
        }
        if (!page.LastEvaluatedKey) return { items, next: undefined };
        start = page.LastEvaluatedKey as PageKey;
      }
    },

    async history(id, limit, after) {
      const item = await getItem(id);
      if (!item) return undefined;
      const current: Snapshot = { ...toProduct(item), deleted: item.deleted };
      // The cursor is the last version a page held; the first page starts with the current version.
      const below = after === undefined ? current.version + 1 : Number(after['version']);
      const items: Snapshot[] = below > current.version ? [current] : [];
      let more = current.version > 1;
      const wanted = limit - items.length;
      if (wanted > 0) {
        // One more than the page needs tells whether another page follows, so that no walk ends on an empty page.
        const page = await documents.send(
          new QueryCommand({
            TableName: snapshotsTable,
            KeyConditionExpression: 'id = :id AND #version < :below',
            ExpressionAttributeNames: { '#version': 'version' },
            ExpressionAttributeValues: { ':id': id, ':below': Math.min(below, current.version) },
            ScanIndexForward: false,
            Limit: wanted + 1,
          }),
        );
        const found = (page.Items ?? []) as Snapshot[];
        items.push(...found.slice(0, wanted));
        more = found.length > wanted;
      }
      const last = items[items.length - 1];
      return { items, next: more && last ? { id, version: last.version } : undefined };
    },

    async putSnapshot(snapshot) {
      // Idempotent: a superseded (id, version) never changes, so a retried drain is harmless.
      await documents.send(new PutCommand({ TableName: snapshotsTable, Item: snapshot }));
    },

    async outbox(id) {
      const { Item } = await documents.send(
        new GetCommand({ TableName: productsTable, Key: { id }, ConsistentRead: true, ProjectionExpression: 'outbox' }),
      );
      return pendingOf((Item as Pick<Item, 'outbox'> | undefined)?.outbox);
    },

    async withPendingOutbox(limit) {
      const ids: string[] = [];
      let start: PageKey | undefined;
      do {
        const page = await documents.send(
          new ScanCommand({
            TableName: productsTable,
            FilterExpression: 'size(outbox) > :zero',
            ProjectionExpression: 'id',
            ExpressionAttributeValues: { ':zero': 0 },
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        for (const item of page.Items ?? []) ids.push(String(item['id']));
        start = page.LastEvaluatedKey as PageKey | undefined;
      } while (start && ids.length < limit);
      return ids.slice(0, limit);
    },

    async clearOutboxEntry(id, eventId) {
      await documents.send(
        new UpdateCommand({
          TableName: productsTable,
          Key: { id },
          UpdateExpression: 'REMOVE outbox.#key',
          ExpressionAttributeNames: { '#key': eventId },
        }),
      );
    },
  };
}
