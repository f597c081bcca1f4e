import type { Deliver } from './change-loop.js';
import type { Deadline } from './deadline.js';
import { idForKey, keyedMatch, randomId, recordFor } from './idempotency.js';
import { gone } from './changes.js';
import { ProductError } from './outcomes.js';
import type { ProductRepository } from './repository.js';
import type { Product, ProductFields } from './schema.js';

export interface CreateDeps {
  readonly repository: Pick<ProductRepository, 'create' | 'get'>;
  readonly deliver: Deliver;
  readonly now: () => Date;
  /** How long an idempotency key is honoured. */
  readonly keySeconds: number;
}

/**
 * A new product, version 1, stored with its outbox entry. With an idempotency key, the id comes from the key, so a
 * repeat finds the first request's product and answers with it.
 */
export async function createProduct(
  { repository, deliver, now, keySeconds }: CreateDeps,
  deadline: Deadline,
  fields: ProductFields,
  caller: string,
  idempotencyKey: string | undefined,
): Promise<Product> {
  const at = now();
  const lastModified = at.toISOString();
  let id = idempotencyKey === undefined ? randomId() : idForKey(caller, idempotencyKey);
  let record = idempotencyKey === undefined ? undefined : recordFor(fields, at, keySeconds);
  for (;;) {
    const product: Product = { ...fields, id, version: 1, lastModified };
    const written = await repository.create(product, record, deadline.signal);
    if (written !== 'exists') {
      await deliver(id, written, deadline);
      return product;
    }
    const stored = await repository.get(id, deadline.signal);
    if (!stored) continue; // Not possible, as products are never removed; try the write again.
    const match = keyedMatch(stored, record, now());
    if (match === 'expired') {
      // A new request, then: a new product, with a random id.
      id = randomId();
      record = undefined;
      continue;
    }
    if (match === 'mismatch') {
      throw new ProductError(
        'idempotency_mismatch',
        'this Idempotency-Key was used for a different request; use a new key for a new product',
      );
    }
    if (stored.outbox.entries.length > 0) await deliver(id, stored, deadline);
    if (stored.deleted) throw gone();
    return stored.product;
  }
}
