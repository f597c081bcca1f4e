import type { Router, RouterContext } from '@koa/router';
import coBody from 'co-body';
import fastJsonPatch from 'fast-json-patch';
import { requireScopes, type AuthState, type PolicyRule } from '../auth/index.js';
import { HttpProblem } from '../http/errors.js';
import type { CursorCodec } from './cursor.js';
import type { OutboxDrainer } from './events.js';
import type { PageKey, ProductRepository } from './repository.js';
import { issuesByPointer, jsonPatch, productFields, productIdPattern, serverFields, type Product } from './schema.js';

export const readScope = 'products/read';
export const writeScope = 'products/write';

/** Who may call the products API: reading needs products/read, every change products/write. */
export const productPolicyRules: readonly PolicyRule[] = [
  { method: 'GET', path: '/products', access: requireScopes(readScope) },
  { method: 'POST', path: '/products', access: requireScopes(writeScope) },
  { method: 'GET', path: '/products/:id', access: requireScopes(readScope) },
  { method: 'PATCH', path: '/products/:id', access: requireScopes(writeScope) },
  { method: 'DELETE', path: '/products/:id', access: requireScopes(writeScope) },
  { method: 'GET', path: '/products/:id/snapshots', access: requireScopes(readScope) },
];

export interface ProductRouteDeps {
  readonly repository: ProductRepository;
  readonly drainer: OutboxDrainer;
  readonly cursors: CursorCodec;
  /** Largest accepted request body. */
  readonly bodyLimitBytes?: number;
}

type Ctx = RouterContext<AuthState>;

const etagOf = (product: Pick<Product, 'version'>): string => `"${product.version}"`;
const retriesOnConflict = 5;
const staleEtag = () => new HttpProblem(412, 'precondition_failed', 'the product changed since that ETag');

/** RFC 9110 §13.1.1: strong comparison, a list of tags or `*`. */
function matchesIfMatch(header: string, product: Product): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim() === etagOf(product));
}

function matchesIfNoneMatch(header: string, product: Product): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etagOf(product));
}

async function readJson(ctx: Ctx, type: string, limitBytes: number): Promise<unknown> {
  if (!ctx.is(type)) throw new HttpProblem(415, 'unsupported_media_type', `the body must be ${type}`);
  try {
    return await coBody.json(ctx, { limit: limitBytes, strict: false });
  } catch (error) {
    const status = (error as { status?: unknown }).status;
    if (status === 413) throw new HttpProblem(413, 'payload_too_large', `the body is over ${limitBytes} bytes`);
    throw new HttpProblem(400, 'invalid_json', 'the body is not valid JSON');
  }
}

function productId(ctx: Ctx): string {
  const id = ctx.params['id'] ?? '';
  // An id we could never have made names nothing: 404 without asking the store.
  if (!productIdPattern.test(id)) throw new HttpProblem(404, 'not_found', 'no such product');
  return id;
}

function pageParams(ctx: Ctx, cursors: CursorCodec, scope: string): { limit: number; after: PageKey | undefined } {
  const { limit: rawLimit, cursor } = ctx.query;
  let limit = 25;
  if (rawLimit !== undefined) {
    if (typeof rawLimit !== 'string' || !/^\d{1,3}$/.test(rawLimit) || Number(rawLimit) < 1 || Number(rawLimit) > 100) {
      throw new HttpProblem(400, 'invalid_request', 'limit must be a whole number from 1 to 100', {
        '/limit': ['must be a whole number from 1 to 100'],
      });
    }
    limit = Number(rawLimit);
  }
  if (cursor === undefined) return { limit, after: undefined };
  const after = typeof cursor === 'string' ? cursors.decode(scope, cursor) : undefined;
  if (!after) throw new HttpProblem(400, 'invalid_cursor', 'the cursor is not one this query handed out');
  return { limit, after };
}

function linkNext(ctx: Ctx, limit: number, cursor: string): void {
  // Relative to the request (RFC 8288 §3.2), so it holds behind any load balancer or proxy.
  const query = new URLSearchParams({ limit: String(limit), cursor });
  ctx.set('Link', `<${ctx.path}?${query.toString()}>; rel="next"`);
}

function sendProduct(ctx: Ctx, product: Product, status = 200): void {
  ctx.status = status;
  ctx.set('ETag', etagOf(product));
  ctx.set('Last-Modified', new Date(product.lastModified).toUTCString());
  ctx.body = product;
}

/** The products API. Handlers validate and decide; the repository is the only code that speaks DynamoDB. */
export function addProductRoutes(router: Router<AuthState>, deps: ProductRouteDeps): void {
  const { repository, drainer, cursors } = deps;
  const limitBytes = deps.bodyLimitBytes ?? 16 * 1024;

  async function current(id: string): Promise<Product> {
    const stored = await repository.get(id);
    if (!stored) throw new HttpProblem(404, 'not_found', 'no such product');
    if (stored.deleted) throw new HttpProblem(410, 'gone', 'the product was deleted');
    return stored.product;
  }

  router.post('/products', async (ctx) => {
    const parsed = productFields.safeParse(await readJson(ctx, 'application/json', limitBytes));
    if (!parsed.success) {
      throw new HttpProblem(400, 'invalid_product', 'the product is not valid', issuesByPointer(parsed.error));
    }
    const { product, pending } = await repository.create(parsed.data);
    await drainer.drain(product.id, pending);
    ctx.set('Location', `/products/${product.id}`);
    sendProduct(ctx, product, 201);
  });

  router.get('/products', async (ctx) => {
    const { limit, after } = pageParams(ctx, cursors, 'products');
    const page = await repository.list(limit, after);
    const next = page.next ? cursors.encode('products', page.next) : null;
    if (next) linkNext(ctx, limit, next);
    ctx.body = { items: page.items, next };
  });

  router.get('/products/:id', async (ctx) => {
    const product = await current(productId(ctx));
    const ifNoneMatch = ctx.get('if-none-match');
    if (ifNoneMatch && matchesIfNoneMatch(ifNoneMatch, product)) {
      ctx.status = 304;
      ctx.set('ETag', etagOf(product));
      return;
    }
    sendProduct(ctx, product);
  });

  router.patch('/products/:id', async (ctx) => {
    const id = productId(ctx);
    const body = await readJson(ctx, 'application/json-patch+json', limitBytes);
    const parsed = jsonPatch.safeParse(body);
    if (!parsed.success) {
      throw new HttpProblem(
        400,
        'invalid_patch',
        'the body is not a JSON Patch (RFC 6902)',
        issuesByPointer(parsed.error),
      );
    }
    const operations = parsed.data;
    const touched = operations.flatMap((op, i) =>
      op.op !== 'test' &&
      [op.path, 'from' in op ? op.from : ''].some((p) =>
        serverFields.some((f) => p === `/${f}` || p.startsWith(`/${f}/`)),
      )
        ? [`/${i}/path`]
        : [],
    );
    if (touched.length > 0) {
      throw new HttpProblem(400, 'invalid_patch', 'id, version and lastModified are set by the server', {
        ...Object.fromEntries(touched.map((at) => [at, ['may not change id, version or lastModified']])),
      });
    }
    const ifMatch = ctx.get('if-match');

    for (let attempt = 0; attempt <= retriesOnConflict; attempt += 1) {
      const before = await current(id);
      if (ifMatch && !matchesIfMatch(ifMatch, before)) {
        throw staleEtag();
      }
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
      const { id: _id, version: _version, lastModified: _lastModified, ...fields } = patched as Product;
      const result = productFields.safeParse(fields);
      if (!result.success) {
        throw new HttpProblem(
          400,
          'invalid_product',
          'the patched product is not valid',
          issuesByPointer(result.error),
        );
      }
      const written = await repository.update(before, result.data);
      if (written !== 'conflict') {
        await drainer.drain(id, written.pending);
        sendProduct(ctx, written.product);
        return;
      }
      // Someone else wrote first. With If-Match the client asked for exactly that version: tell it. Without, the
      // patch is applied again to the new version, so no update is lost.
      if (ifMatch) throw staleEtag();
    }
    throw new HttpProblem(409, 'conflict', 'the product is changing too often; try again');
  });

  router.delete('/products/:id', async (ctx) => {
    const id = productId(ctx);
    const ifMatch = ctx.get('if-match');
    for (let attempt = 0; attempt <= retriesOnConflict; attempt += 1) {
      const stored = await repository.get(id);
      if (!stored) throw new HttpProblem(404, 'not_found', 'no such product');
      if (stored.deleted) {
        ctx.status = 204; // Deleting again is harmless (RFC 9110 §9.2.2, idempotent).
        return;
      }
      if (ifMatch && !matchesIfMatch(ifMatch, stored.product)) {
        throw staleEtag();
      }
      const written = await repository.softDelete(stored.product);
      if (written !== 'conflict') {
        await drainer.drain(id, written.pending);
        ctx.status = 204;
        return;
      }
      if (ifMatch) throw staleEtag();
    }
    throw new HttpProblem(409, 'conflict', 'the product is changing too often; try again');
  });

  router.get('/products/:id/snapshots', async (ctx) => {
    const id = productId(ctx);
    const scope = `snapshots:${id}`;
    const { limit, after } = pageParams(ctx, cursors, scope);
    const page = await repository.history(id, limit, after);
    if (!page) throw new HttpProblem(404, 'not_found', 'no such product');
    const next = page.next ? cursors.encode(scope, page.next) : null;
    if (next) linkNext(ctx, limit, next);
    ctx.body = { items: page.items, next };
  });
}
