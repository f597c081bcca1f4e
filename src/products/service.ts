import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import fastJsonPatch from 'fast-json-patch';
import { defaultRetryAfterSeconds, HttpProblem } from '../http/errors.js';
import type { OutboxDrainer } from './events.js';
import type { Outbox, Page, PageKey, ProductRepository, Signal, Snapshot } from './repository.js';
import {
  issuesByPointer,
  productFields,
  serverFields,
  type JsonPatch,
  type Product,
  type ProductFields,
} from './schema.js';

/** Decides whether a change may go ahead on the version it read (an `If-Match` check, say). */
export type Precondition = (current: Product) => boolean;

export interface CreateOptions {
  /** Who asks (issuer and subject): an idempotency key is theirs alone. */
  readonly caller: string;
  /** `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header): a repeat returns the first result. */
  readonly idempotencyKey?: string | undefined;
}

/** Every change to products, end to end: validation, the conditional write with its outbox entry, drain, retries. */
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

/** A write that lost a race: applied again to the new version, or answered 409 as the deadline allowed no retry. */
export type ConflictOutcome = 'retried' | 'answered_409';

const notFound = () => new HttpProblem(404, 'not_found', 'no such product');
const gone = () => new HttpProblem(410, 'gone', 'the product was deleted');
const stale = () => new HttpProblem(412, 'precondition_failed', 'the product changed since that ETag');
const busy = () =>
  new HttpProblem(409, 'conflict', 'the product is changing too often; try again', undefined, {
    retryAfterSeconds: defaultRetryAfterSeconds,
  });

/** A request's budget for store work: the signal aborts store calls once it is spent. */
interface Deadline {
  readonly signal: AbortSignal;
  remaining(): number;
}

/**
 * Runs `work` within a deadline of `ms`. A controller and a timer cleared at the end, not `AbortSignal.timeout`:
 * that costs about 17 µs per request here (a weak timer and a finalizer), this well under 1 µs.
 */
async function withDeadline<T>(ms: number, work: (deadline: Deadline) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  const end = performance.now() + ms;
  try {
    return await work({ signal: controller.signal, remaining: () => end - performance.now() });
  } finally {
    clearTimeout(timer);
  }
}

/** Full jitter (exponential backoff, each wait random up to its cap), so that racing writers spread out. */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(200, 5 * 2 ** attempt);
}

function randomId(): string {
  return randomBytes(16).toString('base64url');
}

/** Canonical JSON: the same fields in any order give the same digest. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const digest = (text: string) => createHash('sha256').update(text).digest('base64url');

/**
 * The product a keyed create makes has an id derived from the caller and the key, so that the key is stored in the
 * same single-item conditional write as the product: no separate key table, no "in progress" state to strand.
 */
function idForKey(caller: string, key: string): string {
  return createHash('sha256').update(`${caller}\n${key}`).digest().subarray(0, 16).toString('base64url');
}

function isServerField(pointer: string): boolean {
  return serverFields.some((field) => pointer === `/${field}` || pointer.startsWith(`/${field}/`));
}

/** Refuses, before any store call, a patch that names a server field in a path. */
function checkPaths(operations: JsonPatch): void {
  const touched = operations.flatMap((op, i) =>
    op.op !== 'test' && [op.path, 'from' in op ? op.from : ''].some(isServerField) ? [`/${i}/path`] : [],
  );
  if (touched.length > 0) {
    throw new HttpProblem(
      400,
      'invalid_patch',
      'id, version and lastModified are set by the server',
      Object.fromEntries(touched.map((at) => [at, ['must not change id, version or lastModified']])),
    );
  }
}

/** The patch applied to `before`: the client fields of the result, validated, or a 4xx saying why not. */
function applyPatch(before: Product, operations: JsonPatch): ProductFields {
  let patched: unknown;
  try {
    patched = fastJsonPatch.applyPatch(
      structuredClone(before),
      operations as fastJsonPatch.Operation[],
      true,
      false,
    ).newDocument;
  } catch (error) {
    if (error instanceof fastJsonPatch.JsonPatchError && error.name === 'TEST_OPERATION_FAILED') {
      throw new HttpProblem(409, 'test_failed', `the patch's test operation ${String(error.index ?? '')} failed`);
    }
    throw new HttpProblem(400, 'invalid_patch', 'the patch does not apply to this product');
  }
  // A root operation ("path": "") can make the document anything at all.
  if (typeof patched !== 'object' || patched === null || Array.isArray(patched)) {
    throw new HttpProblem(400, 'invalid_product', 'the patched product is not an object', {
      '': ['must be a product object'],
    });
  }
  const document = patched as Record<string, unknown>;
  // The same rule as for paths, for a root replace that carries other (or no) server fields.
  const changed = serverFields.filter((field) => document[field] !== before[field]);
  if (changed.length > 0) {
    throw new HttpProblem(
      400,
      'invalid_patch',
      'id, version and lastModified are set by the server',
      Object.fromEntries(changed.map((field) => [`/${field}`, ['must not change id, version or lastModified']])),
    );
  }
  const fields = Object.fromEntries(
    Object.entries(document).filter(([name]) => !(serverFields as readonly string[]).includes(name)),
  );
  const result = productFields.safeParse(fields);
  if (!result.success) {
    throw new HttpProblem(400, 'invalid_product', 'the patched product is not valid', issuesByPointer(result.error));
  }
  return result.data;
}

export function createProductService(options: ProductServiceOptions): ProductService {
  const { repository, drainer, deadlineMs } = options;
  const now = options.now ?? (() => new Date());
  const keySeconds = options.idempotencyKeySeconds ?? 24 * 60 * 60;

  /**
   * The write is stored; its events go out now. The answer waits for them (so that the history a client reads next
   * holds the version it replaced), but never past the deadline: a drain that cannot finish is the drainer's to
   * retry, not a reason to fail a stored write.
   */
  async function deliver(id: string, outbox: Outbox | undefined, deadline: Deadline): Promise<void> {
    const drained = drainer.drain(id, outbox);
    const { signal } = deadline;
    if (signal.aborted) return;
    // The deadline's own timer ends the wait: no second timer per write.
    await new Promise<void>((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      signal.addEventListener('abort', done);
      void drained.then(done);
    });
  }

  // Changes to one product made in this process take turns (a read and a conditional write each), so that they
  // never race each other; only writers in other processes can, and they are retried with backoff.
  const turns = new Map<string, Promise<void>>();
  function inTurn<T>(id: string, work: () => Promise<T>): Promise<T> {
    const result = (turns.get(id) ?? Promise.resolve()).then(work);
    const done = result.then(
      () => undefined,
      () => undefined,
    );
    turns.set(id, done);
    void done.then(() => {
      if (turns.get(id) === done) turns.delete(id);
    });
    return result;
  }

  async function current(id: string, signal: Signal): Promise<Product> {
    const stored = await repository.get(id, signal);
    if (!stored) throw notFound();
    if (stored.deleted) throw gone();
    return stored.product;
  }

  /** Waits before the next attempt after a lost race, or answers 409 when the deadline would not allow another. */
  async function backoff(attempt: number, deadline: Deadline): Promise<void> {
    const wait = backoffMs(attempt);
    // Room for the wait and one more read and write.
    if (deadline.remaining() < wait + 50) {
      options.onConflict?.('answered_409');
      throw busy();
    }
    options.onConflict?.('retried');
    await sleep(wait);
  }

  async function createWithin(
    deadline: Deadline,
    fields: ProductFields,
    caller: string,
    idempotencyKey: string | undefined,
  ): Promise<Product> {
    const lastModified = now().toISOString();
    const request = idempotencyKey === undefined ? undefined : digest(canonical(fields));
    let id = idempotencyKey === undefined ? randomId() : idForKey(caller, idempotencyKey);
    const expiresAt = Math.floor(Date.parse(lastModified) / 1000) + keySeconds;
    let record = request === undefined ? undefined : { request, expiresAt };
    for (;;) {
      const product: Product = { ...fields, id, version: 1, lastModified };
      const written = await repository.create(product, record, deadline.signal);
      if (written !== 'exists') {
        await deliver(id, written.outbox, deadline);
        return product;
      }
      const stored = await repository.get(id, deadline.signal);
      if (!stored) continue; // Not possible, as products are never removed; try the write again.
      const kept = stored.idempotency;
      if (kept && kept.expiresAt * 1000 <= now().getTime()) {
        // The key is honoured no longer, so this is a new request: a new product, with a random id.
        id = randomId();
        record = undefined;
        continue;
      }
      if (kept && kept.request !== request) {
        throw new HttpProblem(
          422,
          'idempotency_key_reused',
          'this Idempotency-Key was used for a different request; use a new key for a new product',
        );
      }
      // The same request under the same key, or our own earlier attempt (the SDK retried a write that had landed):
      // either way, that product is the answer.
      if (stored.outbox.entries.length > 0) await deliver(id, stored.outbox, deadline);
      if (stored.deleted) throw gone();
      return stored.product;
    }
  }

  async function patchWithin(
    deadline: Deadline,
    id: string,
    operations: JsonPatch,
    precondition: Precondition | undefined,
  ): Promise<Product> {
    for (let attempt = 0; ; attempt += 1) {
      const written = await inTurn(id, async () => {
        const before = await current(id, deadline.signal);
        if (precondition && !precondition(before)) throw stale();
        return repository.update(before, applyPatch(before, operations), deadline.signal);
      });
      if (written !== 'conflict') {
        await deliver(id, written.outbox, deadline);
        return written.product;
      }
      // Someone else wrote first. With a precondition the client asked for exactly that version: tell it. Without,
      // the patch is applied again to the new version, so no update is lost.
      if (precondition) throw stale();
      await backoff(attempt, deadline);
    }
  }

  async function removeWithin(deadline: Deadline, id: string, precondition: Precondition | undefined): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      const written = await inTurn(id, async () => {
        const stored = await repository.get(id, deadline.signal);
        if (!stored) throw notFound();
        if (stored.deleted) return 'deleted'; // Deleting again is harmless (RFC 9110 §9.2.2, idempotent).
        if (precondition && !precondition(stored.product)) throw stale();
        return repository.softDelete(stored.product, deadline.signal);
      });
      if (written === 'deleted') return;
      if (written !== 'conflict') {
        await deliver(id, written.outbox, deadline);
        return;
      }
      if (precondition) throw stale();
      await backoff(attempt, deadline);
    }
  }

  return {
    create(fields, { caller, idempotencyKey }) {
      return withDeadline(deadlineMs, (deadline) => createWithin(deadline, fields, caller, idempotencyKey));
    },

    get(id) {
      return withDeadline(deadlineMs, ({ signal }) => current(id, signal));
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
      return withDeadline(deadlineMs, (deadline) => {
        checkPaths(operations); // before any store call
        return patchWithin(deadline, id, operations, precondition);
      });
    },

    remove(id, precondition) {
      return withDeadline(deadlineMs, (deadline) => removeWithin(deadline, id, precondition));
    },
  };
}
