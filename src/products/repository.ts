import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { HttpProblem } from '../http/errors.js';
import { productFieldNames, type Product, type ProductFields } from './schema.js';

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

export type PageKey = Record<string, string | number>;

/** The outbox as a write left it (or as read): every entry still pending, as of the product's `version`. */
export interface Outbox {
  readonly version: number;
  readonly entries: PendingEntries;
}

/** A write's result: the product, and the outbox as that very write left it (so no extra read is needed). */
export interface Written {
  readonly product: Product;
  readonly outbox: Outbox;
}

/** What a create made with an `Idempotency-Key` remembers: a digest of the request, and until when it counts. */
export interface IdempotencyRecord {
  readonly request: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

export interface StoredProduct {
  readonly product: Product;
  readonly deleted: boolean;
  readonly outbox: Outbox;
  readonly idempotency: IdempotencyRecord | undefined;
}

/**
 * The store did not answer, or answered that it cannot now (throttling, a 5xx, a timeout, a refused connection),
 * after the SDK's own retries, or the request's deadline for store work passed. The service answers 503 with
 * `Retry-After`.
 */
export class StoreUnavailable extends HttpProblem {
  constructor(cause: unknown) {
    super(503, 'temporarily_unavailable', 'the product store is not available now; try again', undefined, { cause });
    this.name = 'StoreUnavailable';
  }
}

/**
 * The store refused what it was given (DynamoDB's `ValidationException`: a number out of its range, an item too
 * large). Input we validated should never get here; if it does, it is the client's request that cannot be stored,
 * so a 422 rather than a 500.
 */
export class StoreRefused extends HttpProblem {
  constructor(cause: unknown) {
    super(422, 'unstorable', 'the product cannot be stored as given', undefined, { cause });
    this.name = 'StoreRefused';
  }
}

const networkErrors = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
const transientErrors = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TimeoutError',
  // The request's deadline for store work passed (our AbortSignal): the SDK stops retrying at once.
  'AbortError',
  // No credentials could be had (the task role's endpoint did not answer, say): the store cannot be asked now.
  'CredentialsProviderError',
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

/** Every call takes the request's abort signal: once its deadline for store work passes, the call stops. */
export type Signal = AbortSignal | undefined;

export interface ProductRepository {
  /** Stores a new product (version 1) with its outbox entry, unless an item with its id exists: then `exists`. */
  create(product: Product, idempotency: IdempotencyRecord | undefined, signal: Signal): Promise<Written | 'exists'>;
  get(id: string, signal: Signal): Promise<StoredProduct | undefined>;
  /** Stores `fields` as the next version of `current` if the stored product is still at `current.version`. */
  update(current: Product, fields: ProductFields, signal: Signal): Promise<Written | 'conflict'>;
  /** Marks `current` deleted, as its next version, if the stored product is still at `current.version`. */
  softDelete(current: Product, signal: Signal): Promise<Written | 'conflict'>;
  list(limit: number, after: PageKey | undefined, signal: Signal): Promise<Page<Product>>;
  /** Every version, newest first: the current one, then the superseded ones. `undefined`: no such product. */
  history(id: string, limit: number, after: PageKey | undefined, signal: Signal): Promise<Page<Snapshot> | undefined>;
  putSnapshot(snapshot: Snapshot, signal: Signal): Promise<void>;
  /** The pending outbox of one product, oldest first, as of its current version. */
  outbox(id: string, signal: Signal): Promise<Outbox>;
  /** Ids of products with outbox entries pending since before `before`: a query of the sparse pending index. */
  pendingSince(before: Date, limit: number, signal: Signal): Promise<readonly string[]>;
  /**
   * Removes one delivered entry. With `lastOf`, the entry is the last of the outbox as of that version: if the
   * product is still at it, the pending marker goes too, and the product leaves the pending index.
   */
  clearOutboxEntry(id: string, key: string, lastOf: number | undefined, signal: Signal): Promise<void>;
}

export interface RepositoryOptions {
  readonly client: DynamoDBClient;
  readonly productsTable: string;
  readonly snapshotsTable: string;
  readonly now?: () => Date;
}

const productAttributes = ['id', 'version', 'lastModified', ...productFieldNames];

interface Item extends Product {
  deleted: boolean;
  outbox?: Record<string, OutboxEntry>;
  idempotency?: IdempotencyRecord;
}

/** The product as the schema has it: whatever else the item holds (outbox, markers) stays in the store. */
function toProduct(item: Item): Product {
  const product: Record<string, unknown> = {};
  for (const name of productAttributes) {
    if (item[name as keyof Item] !== undefined) product[name] = item[name as keyof Item];
  }
  return product as unknown as Product;
}

/** Client fields an update sets or removes, as expression fragments with their names and values. */
interface FieldChange {
  readonly set: string[];
  readonly remove: string[];
  readonly names: Record<string, string>;
  readonly values: Record<string, unknown>;
}

function outboxOf(item: Pick<Item, 'version' | 'outbox'>): Outbox {
  const entries = Object.entries(item.outbox ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, entry]) => ({ key, entry }));
  return { version: item.version, entries };
}

function eventKey(event: ChangeEvent): string {
  // Sorts by version, then is unique: the drainer publishes a product's events in order.
  return `${String(event.version).padStart(10, '0')}-${randomUUID()}`;
}

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

/** The only module that speaks DynamoDB: the products service never builds an expression. */
export function createProductRepository(options: RepositoryOptions): ProductRepository {
  const documents = DynamoDBDocumentClient.from(options.client, {
    marshallOptions: { removeUndefinedValues: true },
  });
  // Outermost step, so it sees what is left after the SDK's own retries: one error type for "not now", one for "never".
  documents.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if (isUnavailable(error)) throw new StoreUnavailable(error);
        if (error instanceof Error && error.name === 'ValidationException') throw new StoreRefused(error);
        throw error;
      }
    },
    { step: 'initialize', name: 'storeErrors', override: true },
  );
  const now = options.now ?? (() => new Date());
  const { productsTable, snapshotsTable } = options;
  const callOptions = (signal: Signal) => (signal ? { abortSignal: signal } : {});

  function entryFor(type: ChangeType, product: Product, superseded: Product | undefined): [string, OutboxEntry] {
    const event: ChangeEvent = { type, id: product.id, version: product.version, at: product.lastModified };
    // Only a product that is not deleted can change, so the version it replaces was never a deleted one.
    return [eventKey(event), { event, ...(superseded ? { superseded: { ...superseded, deleted: false } } : {}) }];
  }

  async function getItem(id: string, signal: Signal): Promise<Item | undefined> {
    // The whole item: its outbox is empty once drained, and a projection costs the store more than those bytes.
    const { Item } = await documents.send(
      new GetCommand({ TableName: productsTable, Key: { id }, ConsistentRead: true }),
      callOptions(signal),
    );
    return Item as Item | undefined;
  }

  /**
   * Writes `product` as the next version, with its outbox entry and the pending mark, only if the stored product is
   * still at `current.version` and not deleted: the optimistic lock every change goes through.
   */
  async function writeNextVersion(
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
            '#state': pendingIndex.partitionKey,
            '#since': pendingIndex.sortKey,
            ...change.names,
          },
          ExpressionAttributeValues: {
            ':expected': current.version,
            ':next': product.version,
            ':lastModified': product.lastModified,
            ':deleted': type === 'deleted',
            ':false': false,
            ':entry': entry,
            ':pending': pendingIndex.pending,
            ...change.values,
          },
        }),
        callOptions(signal),
      );
      const written = Attributes as Pick<Item, 'outbox'> | undefined;
      return { product, outbox: outboxOf({ version: product.version, ...written }) };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'conflict';
      throw error;
    }
  }

  return {
    async create(product, idempotency, signal) {
      const [key, entry] = entryFor('created', product, undefined);
      try {
        await documents.send(
          new PutCommand({
            TableName: productsTable,
            Item: {
              ...product,
              deleted: false,
              outbox: { [key]: entry },
              [pendingIndex.partitionKey]: pendingIndex.pending,
              [pendingIndex.sortKey]: product.lastModified,
              ...(idempotency ? { idempotency } : {}),
            },
            ConditionExpression: 'attribute_not_exists(id)',
          }),
          callOptions(signal),
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
      const item = await getItem(id, signal);
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
      return writeNextVersion('updated', current, product, change, signal);
    },

    async softDelete(current, signal) {
      const product: Product = { ...current, version: current.version + 1, lastModified: now().toISOString() };
      return writeNextVersion('deleted', current, product, { set: [], remove: [], names: {}, values: {} }, signal);
    },

    async list(limit, after, signal) {
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
            ProjectionExpression: productAttributes.map((_, i) => `#p${i}`).join(', '),
            ExpressionAttributeNames: {
              '#deleted': 'deleted',
              ...Object.fromEntries(productAttributes.map((name, i) => [`#p${i}`, name])),
            },
            ExpressionAttributeValues: { ':false': false },
          }),
          callOptions(signal),
        );
        for (const item of (page.Items ?? []) as unknown as Item[]) {
          items.push(toProduct(item));
          if (items.length === limit) {
            const more = item !== page.Items?.[page.Items.length - 1] || page.LastEvaluatedKey !== undefined;
            return { items, next: more ? { id: item.id } : undefined };
          }
        }
        if (!page.LastEvaluatedKey) return { items, next: undefined };
        start = page.LastEvaluatedKey;
      }
    },

    async history(id, limit, after, signal) {
      const item = await getItem(id, signal);
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
          callOptions(signal),
        );
        const found = (page.Items ?? []) as unknown as Snapshot[];
        items.push(...found.slice(0, wanted));
        more = found.length > wanted;
      }
      const last = items[items.length - 1];
      return { items, next: more && last ? { id, version: last.version } : undefined };
    },

    async putSnapshot(snapshot, signal) {
      // Idempotent: a superseded (id, version) never changes, so a retried drain is harmless.
      await documents.send(new PutCommand({ TableName: snapshotsTable, Item: snapshot }), callOptions(signal));
    },

    async outbox(id, signal) {
      const { Item } = await documents.send(
        new GetCommand({
          TableName: productsTable,
          Key: { id },
          ConsistentRead: true,
          ProjectionExpression: '#version, outbox',
          ExpressionAttributeNames: { '#version': 'version' },
        }),
        callOptions(signal),
      );
      return Item ? outboxOf(Item as Pick<Item, 'version' | 'outbox'>) : { version: 0, entries: [] };
    },

    async pendingSince(before, limit, signal) {
      const ids: string[] = [];
      let start: PageKey | undefined;
      do {
        const page = await documents.send(
          new QueryCommand({
            TableName: productsTable,
            IndexName: pendingIndex.name,
            KeyConditionExpression: '#state = :pending AND #since < :before',
            ExpressionAttributeNames: { '#state': pendingIndex.partitionKey, '#since': pendingIndex.sortKey },
            ExpressionAttributeValues: { ':pending': pendingIndex.pending, ':before': before.toISOString() },
            Limit: limit - ids.length,
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
          callOptions(signal),
        );
        for (const item of page.Items ?? []) ids.push(String(item['id']));
        start = page.LastEvaluatedKey as PageKey | undefined;
      } while (start && ids.length < limit);
      return ids;
    },

    async clearOutboxEntry(id, key, lastOf, signal) {
      const names = { '#key': key };
      if (lastOf !== undefined) {
        try {
          // Still at the version whose outbox this was: nothing newer was added, so the outbox is empty now.
          await documents.send(
            new UpdateCommand({
              TableName: productsTable,
              Key: { id },
              UpdateExpression: 'REMOVE outbox.#key, #state, #since',
              ConditionExpression: '#version = :version',
              ExpressionAttributeNames: {
                ...names,
                '#version': 'version',
                '#state': pendingIndex.partitionKey,
                '#since': pendingIndex.sortKey,
              },
              ExpressionAttributeValues: { ':version': lastOf },
            }),
            callOptions(signal),
          );
          return;
        } catch (error) {
          // A newer change added its own entry: the mark stays until that one is delivered.
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        }
      }
      await documents.send(
        new UpdateCommand({
          TableName: productsTable,
          Key: { id },
          UpdateExpression: 'REMOVE outbox.#key',
          ExpressionAttributeNames: names,
        }),
        callOptions(signal),
      );
    },
  };
}
