import { createChangeLoop, type ConflictOutcome, type Deliver, type Precondition } from './change-loop.js';
import { live, notFound, patchChange, removeChange } from './changes.js';
import { createProduct } from './create.js';
import { untilDeadline, withDeadline } from './deadline.js';
import type { OutboxDrainer } from './events.js';
import { checkPaths } from './patch.js';
import type { Page, PageKey, ProductRepository, Snapshot } from './repository.js';
import type { JsonPatch, Product, ProductFields } from './schema.js';

export type { ConflictOutcome, Precondition } from './change-loop.js';

export interface CreateOptions {
  /** Who asks (issuer and subject): an idempotency key is theirs alone. */
  readonly caller: string;
  /** `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header): a repeat returns the first result. */
  readonly idempotencyKey?: string | undefined;
}

/**
 * Every change to products, end to end: validation, the conditional write with its outbox entry, drain, retries.
 * Whatever does not end with its result throws a `ProductError` (outcomes.ts), in domain terms.
 */
export interface ProductService {
  /** The product made, or the one an earlier attempt or request with the same idempotency key made. */
  create(fields: ProductFields, options: CreateOptions): Promise<Product>;
  get(id: string): Promise<Product>;
  list(limit: number, after: PageKey | undefined): Promise<Page<Product>>;
  history(id: string, limit: number, after: PageKey | undefined): Promise<Page<Snapshot>>;
  /** Applies a JSON Patch; without a precondition, a write that loses a race is applied again to the new version. */
  patch(id: string, operations: JsonPatch, precondition?: Precondition): Promise<Product>;
  /** A soft delete; deleting a deleted product is done already. */
  remove(id: string, precondition?: Precondition): Promise<void>;
}

export interface ProductServiceOptions {
  readonly repository: ProductRepository;
  readonly drainer: OutboxDrainer;
  /** The longest one request may spend on store work, retries after a lost race included. */
  readonly deadlineMs: number;
  /** How long an idempotency key is honoured. */
  readonly idempotencyKeySeconds?: number;
  readonly now?: () => Date;
  readonly onConflict?: (outcome: ConflictOutcome) => void;
}

export function createProductService(options: ProductServiceOptions): ProductService {
  const { repository, drainer, deadlineMs } = options;
  const now = options.now ?? (() => new Date());
  const keySeconds = options.idempotencyKeySeconds ?? 24 * 60 * 60;

  // The write is stored; its events go out now. The answer waits for them (so that the history a client reads next
  // holds the version it replaced), but never past the deadline: a drain that cannot finish is the drainer's to
  // retry, not a reason to fail a stored write.
  const deliver: Deliver = (id, written, deadline) => untilDeadline(drainer.drain(id, written.outbox), deadline);
  const change = createChangeLoop({ repository, deliver, onConflict: options.onConflict });

  return {
    create(fields, { caller, idempotencyKey }) {
      return withDeadline(deadlineMs, (deadline) =>
        createProduct({ repository, deliver, now, keySeconds }, deadline, fields, caller, idempotencyKey),
      );
    },

    get(id) {
      return withDeadline(deadlineMs, async ({ signal }) => live(await repository.get(id, signal)));
    },

    list(limit, after) {
      return withDeadline(deadlineMs, ({ signal }) => repository.list(limit, after, signal));
    },

    history(id, limit, after) {
      return withDeadline(deadlineMs, async ({ signal }) => {
        const page = await repository.history(id, limit, after, signal);
        if (!page) throw notFound();
        return page;
      });
    },

    patch(id, operations, precondition) {
      return withDeadline(deadlineMs, async (deadline) => {
        checkPaths(operations); // before any store call
        const written = await change(id, patchChange(repository, operations, precondition), deadline);
        return written.product;
      });
    },

    remove(id, precondition) {
      return withDeadline(deadlineMs, async (deadline) => {
        await change(id, removeChange(repository, precondition), deadline);
      });
    },
  };
}
