import { stale, type Change, type Precondition } from './change-loop.js';
import { ProductError } from './outcomes.js';
import { applyPatch } from './patch.js';
import type { ProductRepository, StoredProduct } from './repository.js';
import type { JsonPatch, Product } from './schema.js';

export const notFound = () => new ProductError('not_found', 'no such product');
export const gone = () => new ProductError('gone', 'the product was deleted');

/** The product as stored, if there is one and it is not deleted. */
export function live(stored: StoredProduct | undefined): Product {
  if (!stored) throw notFound();
  if (stored.deleted) throw gone();
  return stored.product;
}

type Writes = Pick<ProductRepository, 'update' | 'softDelete'>;

/** PATCH: a JSON Patch applied to the version read, written as the next one. */
export function patchChange(repository: Writes, operations: JsonPatch, precondition: Precondition | undefined): Change {
  return {
    precondition,
    decide(stored, signal) {
      const before = live(stored);
      if (precondition && !precondition(before)) throw stale();
      return repository.update(before, applyPatch(before, operations), signal);
    },
  };
}

/** DELETE: a soft delete; deleting a deleted product is done already (RFC 9110 §9.2.2, idempotent). */
export function removeChange(repository: Writes, precondition: Precondition | undefined): Change<'done'> {
  return {
    precondition,
    decide(stored, signal) {
      if (!stored) throw notFound();
      if (stored.deleted) return 'done';
      if (precondition && !precondition(stored.product)) throw stale();
      return repository.softDelete(stored.product, signal);
    },
  };
}
