import type { Product, ProductFields } from '../schema.js';

/** What the product store promises the service and the drainer; store/*.ts keep the promise in DynamoDB. */

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

export interface Page<T> {
  readonly items: readonly T[];
  /** The key to continue after, or undefined on the last page. */
  readonly next: PageKey | undefined;
}

/**
 * Every call takes the request's abort signal: once its deadline for store work passes, the call is no longer waited
 * for and no further call starts. A call the store cannot answer now throws a `ProductError` `store_unavailable`; one
 * it refuses, `unstorable`.
 */
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
