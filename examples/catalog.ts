import { randomUUID } from 'node:crypto';

/** The examples' sample data: what `GET /products` lists. */
export const products = [
  { id: 'p-1', name: 'Espresso cup', price: 12.5 },
  { id: 'p-2', name: 'Milk jug', price: 19 },
];

/** What `POST /products` answers (201): a new id, and who asked. The examples store nothing. */
export function created(subject: string | undefined) {
  return { id: randomUUID(), createdBy: subject ?? null };
}

/**
 * What each example prints once it listens: where, which `npm run example` users and the examples' test read, and
 * where its protected-resource metadata is (RFC 9728).
 */
export function listening(name: string, port: number, resourceMetadataUrl: string): string {
  return `${name} example listening on http://localhost:${port}\nresource metadata (RFC 9728): ${resourceMetadataUrl}`;
}
