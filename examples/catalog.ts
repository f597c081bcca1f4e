import { randomUUID } from 'node:crypto';

/** The examples' sample data: what `GET /products` lists. */
export const products = [
  { id: 'p-1', name: 'Espresso cup', price: 12.5 },
  { id: 'p-2', name: 'Milk jug', price: 19 },
];

/** What `POST /products` answers (201): a new id, and who asked. The examples store nothing new. */
export function created(subject: string | undefined) {
  return { id: randomUUID(), createdBy: subject ?? null };
}

/** The group whose people may delete products: the service's own (`src/products/routes.ts`). */
export const adminGroup = 'catalog-admins';

/**
 * What `DELETE /products/:id` does: true when the product was there and is gone (204), false when absent (404). The id
 * as each framework types a path parameter (Express allows a list, Koa `undefined`).
 */
export function remove(id: string | readonly string[] | undefined): boolean {
  const index = products.findIndex((product) => product.id === id);
  if (index === -1) return false;
  products.splice(index, 1);
  return true;
}

/** The body of a 404. */
export const notFound = { error: 'not_found' };

/**
 * What each example prints once it listens: where, which `npm run example` users and the examples' test read, and
 * where its protected-resource metadata is (RFC 9728).
 */
export function listening(name: string, port: number, resourceMetadataUrl: string): string {
  return `${name} example listening on http://localhost:${port}\nresource metadata (RFC 9728): ${resourceMetadataUrl}`;
}
