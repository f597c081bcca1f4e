import type { RouterContext } from '@koa/router';
import coBody from 'co-body';
import type { z } from 'zod';
import { allOf, requireGroups, requireScopes, stepUp, type Access } from '@product-service/bearer';
import type { AuthState } from '@product-service/bearer-koa';
import { defaultRetryAfterSeconds, HttpProblem } from '../http/errors.js';
import type { Answer, Route } from '../http/route.js';
import type { CursorCodec } from './cursor.js';
import { exampleInput, exampleInvalid, examplePatch, exampleProduct } from './examples.js';
import { ProductError, type ProductOutcome } from './outcomes.js';
import type { PageKey } from './repository.js';
import { issuesByPointer, jsonPatch, productFields, productIdPattern, type Product } from './schema.js';
import type { Precondition, ProductService } from './service.js';

export const readScope = 'products/read';
export const writeScope = 'products/write';
/** The Cognito group a person must be in to change products; machine clients need only products/write. */
export const adminGroup = 'catalog-admins';
/**
 * Changing products: products/write for every caller, and the group for a person. A machine client (client_credentials)
 * has no groups, so the rule names its way in: products/write, which it needs anyway. A person granted products/write
 * (the web client asks for it at sign-in) but not in the group is refused.
 */
const writeAccess = allOf(requireScopes(writeScope), requireGroups(adminGroup, { orMachinesWithScopes: [writeScope] }));

export interface ProductRouteDeps {
  readonly products: ProductService;
  readonly cursors: CursorCodec;
  /** Largest accepted request body. */
  readonly bodyLimitBytes?: number;
  /** When set, a person deleting a product must have signed in at most this many seconds ago (RFC 9470). */
  readonly stepUpMaxAgeSec?: number | undefined;
}

/**
 * Deleting, for a person, may ask for a recent sign-in (RFC 9470 §3): a stolen or long-lived session then cannot
 * delete without signing in again. Machine clients (client_credentials) have no sign-in to renew, so only people are
 * asked; they keep needing products/write.
 */
function deleteAccess(maxAgeSec: number | undefined): Access {
  return maxAgeSec === undefined ? writeAccess : stepUp(writeAccess, { maxAgeSec, peopleOnly: true });
}

type Ctx = RouterContext<AuthState>;

/** What a client is answered for an outcome: the status, and the stable `error` code it has always been sent. */
export interface OutcomeAnswer {
  readonly status: number;
  readonly code: string;
  readonly retryAfterSeconds?: number;
}

/**
 * The one place the products domain's outcomes become HTTP: every outcome, its status and `error` code. The codes are
 * the ones the API has always answered (a client switches on them), which is why some differ from the outcome's name.
 */
export const outcomeAnswers: Readonly<Record<ProductOutcome, OutcomeAnswer>> = {
  not_found: { status: 404, code: 'not_found' },
  gone: { status: 410, code: 'gone' },
  // RFC 9110 §13.1.1: a failed If-Match.
  stale_etag: { status: 412, code: 'precondition_failed' },
  conflict_exhausted: { status: 409, code: 'conflict', retryAfterSeconds: defaultRetryAfterSeconds },
  // RFC 5789 §2.2: a patch that cannot be applied to the resource's state is a conflict.
  patch_test_failed: { status: 409, code: 'test_failed' },
  invalid_patch: { status: 400, code: 'invalid_patch' },
  invalid_product: { status: 400, code: 'invalid_product' },
  // draft-ietf-httpapi-idempotency-key-header §2.7: a key reused for a different payload is 422.
  idempotency_mismatch: { status: 422, code: 'idempotency_key_reused' },
  // RFC 9110 §15.6.4, with Retry-After (HttpProblem's default for a 503).
  store_unavailable: { status: 503, code: 'temporarily_unavailable' },
  unstorable: { status: 422, code: 'unstorable' },
};

/** A domain outcome as the service's answer; its cause (the SDK's error, say) goes along, for the log. */
export function problemOf(error: ProductError): HttpProblem {
  const { status, code, retryAfterSeconds } = outcomeAnswers[error.code];
  return new HttpProblem(status, code, error.message, error.errors, {
    cause: error.cause ?? error,
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  });
}

/** A handler whose domain outcomes are answered through `outcomeAnswers`. */
function answering(handler: Route['handler']): Route['handler'] {
  return async (ctx, next) => {
    try {
      await handler(ctx, next);
    } catch (error) {
      throw error instanceof ProductError ? problemOf(error) : error;
    }
  };
}

const etagOf = (product: Pick<Product, 'version'>): string => `"${product.version}"`;

/** RFC 9110 §13.1.1: strong comparison, a list of tags or `*`. */
function matchesIfMatch(header: string, product: Product): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim() === etagOf(product));
}

function matchesIfNoneMatch(header: string, product: Product): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etagOf(product));
}

/** `If-Match` as the service's precondition: none without the header. */
function ifMatch(ctx: Ctx): Precondition | undefined {
  const header = ctx.get('if-match');
  return header ? (product) => matchesIfMatch(header, product) : undefined;
}

/**
 * `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header): a Structured Field string, `"…"`; a bare token is
 * accepted too, as most clients send one.
 */
function idempotencyKey(ctx: Ctx): string | undefined {
  if (!('idempotency-key' in ctx.headers)) return undefined;
  // Sent but empty (Node trims whitespace-only to empty): a retry would make a new product each time, so refused.
  const header = ctx.get('idempotency-key');
  const key = /^"(.*)"$/.exec(header)?.[1] ?? header;
  if (!/^[\x21\x23-\x5b\x5d-\x7e]{1,255}$/.test(key)) {
    throw new HttpProblem(400, 'invalid_request', 'Idempotency-Key must be 1 to 255 visible characters, as "…"');
  }
  return key;
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

/** The body, read and checked against its schema: a 400 names every problem by JSON Pointer. */
async function readValid<T>(
  ctx: Ctx,
  type: string,
  limitBytes: number,
  schema: z.ZodType<T>,
  problem: { readonly code: string; readonly description: string },
): Promise<T> {
  const parsed = schema.safeParse(await readJson(ctx, type, limitBytes));
  if (!parsed.success) throw new HttpProblem(400, problem.code, problem.description, issuesByPointer(parsed.error));
  return parsed.data;
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

const idParameter = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: productIdPattern.source },
  example: exampleProduct.id,
};
const pageParameters = [
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 25 } },
  { name: 'cursor', in: 'query', description: 'The `next` value of the previous page', schema: { type: 'string' } },
];
const ifMatchParameter = {
  name: 'If-Match',
  in: 'header',
  description: 'The ETag the change is based on: a stale one is 412',
  schema: { type: 'string' },
};
const idempotencyKeyParameter = {
  name: 'Idempotency-Key',
  in: 'header',
  description:
    'draft-ietf-httpapi-idempotency-key-header: a repeat with the same key and body (within 24 hours) answers with ' +
    'the product the first request made, instead of making another',
  schema: { type: 'string', maxLength: 257 },
};
const busy = {
  description:
    'The product changed too often to apply the change within the store deadline; try again after `Retry-After`',
  headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer', minimum: 0 } } },
};
const productAnswer = (description: string): Answer => ({ description, schema: 'Product', example: exampleProduct });

/** What the route factories share: the service, the cursors and the body limit, read once. */
interface RouteContext {
  readonly products: ProductService;
  readonly cursors: CursorCodec;
  readonly limitBytes: number;
  readonly tooLarge: string;
  readonly stepUpMaxAgeSec: number | undefined;
}

/** GET /products: a page of products. */
function listProductsRoute(route: RouteContext): Route {
  const { products, cursors } = route;
  return {
    method: 'GET',
    path: '/products',
    access: requireScopes(readScope),
    doc: {
      operationId: 'listProducts',
      summary: 'List products, a page at a time (in store order, not by date)',
      tag: 'products',
      usesStore: true,
      parameters: pageParameters,
      answers: {
        200: {
          description: 'A page of products; `Link: rel="next"` when there is more',
          schema: 'ProductPage',
          example: { items: [exampleProduct], next: null },
        },
        400: 'Bad limit or cursor',
      },
    },
    async handler(ctx) {
      const { limit, after } = pageParams(ctx, cursors, 'products');
      const page = await products.list(limit, after);
      const next = page.next ? cursors.encode('products', page.next) : null;
      if (next) linkNext(ctx, limit, next);
      ctx.body = { items: page.items, next };
    },
  };
}

/** POST /products: a new product, or the one an `Idempotency-Key` made. */
function createProductRoute(route: RouteContext): Route {
  const { products, limitBytes, tooLarge } = route;
  return {
    method: 'POST',
    path: '/products',
    access: writeAccess,
    doc: {
      operationId: 'createProduct',
      summary: 'Create a product',
      tag: 'products',
      usesStore: true,
      parameters: [idempotencyKeyParameter],
      request: { type: 'application/json', schema: 'ProductInput', example: exampleInput },
      answers: {
        201: productAnswer(
          'Created (or, for a repeated `Idempotency-Key`, the product it made); `Location` and `ETag` are set',
        ),
        400: {
          description:
            'Invalid product (errors keyed by JSON Pointer), malformed JSON or a malformed `Idempotency-Key`',
          example: exampleInvalid,
        },
        410: 'The product this `Idempotency-Key` made was deleted since',
        413: tooLarge,
        415: 'Body is not application/json',
        422: 'The `Idempotency-Key` was used for a different body, or the store refused a value',
      },
    },
    async handler(ctx) {
      const key = idempotencyKey(ctx);
      const fields = await readValid(ctx, 'application/json', limitBytes, productFields, {
        code: 'invalid_product',
        description: 'the product is not valid',
      });
      const principal = ctx.state.principal;
      const product = await products.create(fields, {
        caller: `${principal?.issuer ?? ''}\n${principal?.subject ?? ''}`,
        idempotencyKey: key,
      });
      ctx.set('Location', `/products/${product.id}`);
      sendProduct(ctx, product, 201);
    },
  };
}

/** GET /products/:id: one product, with its ETag. */
function getProductRoute(route: RouteContext): Route {
  const { products } = route;
  return {
    method: 'GET',
    path: '/products/:id',
    access: requireScopes(readScope),
    doc: {
      operationId: 'getProduct',
      summary: 'Read a product',
      tag: 'products',
      usesStore: true,
      parameters: [idParameter, { name: 'If-None-Match', in: 'header', schema: { type: 'string' } }],
      answers: {
        200: productAnswer('The product, with its `ETag`'),
        304: 'Not modified: `If-None-Match` names the current version',
        404: 'No such product',
        410: 'Deleted',
      },
    },
    async handler(ctx) {
      const product = await products.get(productId(ctx));
      const ifNoneMatch = ctx.get('if-none-match');
      if (ifNoneMatch && matchesIfNoneMatch(ifNoneMatch, product)) {
        ctx.status = 304;
        ctx.set('ETag', etagOf(product));
        return;
      }
      sendProduct(ctx, product);
    },
  };
}

/** PATCH /products/:id: a JSON Patch (RFC 6902), on condition of `If-Match` if sent. */
function patchProductRoute(route: RouteContext): Route {
  const { products, limitBytes, tooLarge } = route;
  return {
    method: 'PATCH',
    path: '/products/:id',
    access: writeAccess,
    doc: {
      operationId: 'patchProduct',
      summary: 'Change a product with a JSON Patch (RFC 6902)',
      tag: 'products',
      usesStore: true,
      parameters: [idParameter, ifMatchParameter],
      request: { type: 'application/json-patch+json', schema: 'JsonPatch', example: examplePatch },
      answers: {
        200: productAnswer('The new version'),
        400: 'Invalid patch, an invalid result, or a change to `id`, `version` or `lastModified`',
        404: 'No such product',
        409: { ...busy, description: `A \`test\` operation failed; or: ${busy.description}` },
        410: 'Deleted',
        412: '`If-Match` names an older version',
        413: tooLarge,
        415: 'Body is not application/json-patch+json',
        422: 'The store refused a value',
      },
    },
    async handler(ctx) {
      const id = productId(ctx);
      const operations = await readValid(ctx, 'application/json-patch+json', limitBytes, jsonPatch, {
        code: 'invalid_patch',
        description: 'the body is not a JSON Patch (RFC 6902)',
      });
      sendProduct(ctx, await products.patch(id, operations, ifMatch(ctx)));
    },
  };
}

/** DELETE /products/:id: a soft delete, on condition of `If-Match` if sent. */
function deleteProductRoute(route: RouteContext): Route {
  const { products } = route;
  return {
    method: 'DELETE',
    path: '/products/:id',
    access: deleteAccess(route.stepUpMaxAgeSec),
    doc: {
      operationId: 'deleteProduct',
      summary: 'Delete a product (soft: it answers 410 afterwards)',
      tag: 'products',
      usesStore: true,
      parameters: [idParameter, ifMatchParameter],
      answers: {
        204: 'Deleted (also when already deleted)',
        404: 'No such product',
        409: busy,
        412: '`If-Match` names an older version',
      },
    },
    async handler(ctx) {
      await products.remove(productId(ctx), ifMatch(ctx));
      ctx.status = 204;
    },
  };
}

/** GET /products/:id/snapshots: every version of a product, newest first. */
function listSnapshotsRoute(route: RouteContext): Route {
  const { products, cursors } = route;
  return {
    method: 'GET',
    path: '/products/:id/snapshots',
    access: requireScopes(readScope),
    doc: {
      operationId: 'listSnapshots',
      summary: 'Every version of a product, newest first',
      tag: 'products',
      usesStore: true,
      parameters: [idParameter, ...pageParameters],
      answers: {
        200: {
          description: 'A page of versions',
          schema: 'SnapshotPage',
          example: { items: [{ ...exampleProduct, deleted: false }], next: null },
        },
        400: 'Bad limit or cursor',
        404: 'No such product',
      },
    },
    async handler(ctx) {
      const id = productId(ctx);
      const scope = `snapshots:${id}`;
      const { limit, after } = pageParams(ctx, cursors, scope);
      const page = await products.history(id, limit, after);
      const next = page.next ? cursors.encode(scope, page.next) : null;
      if (next) linkNext(ctx, limit, next);
      ctx.body = { items: page.items, next };
    },
  };
}

/** The products API, a route at a time. Handlers translate HTTP; the products service does the work. */
export function productRoutes(deps: ProductRouteDeps): readonly Route[] {
  const limitBytes = deps.bodyLimitBytes ?? 16 * 1024;
  const route: RouteContext = {
    products: deps.products,
    cursors: deps.cursors,
    limitBytes,
    tooLarge: `Body over ${limitBytes / 1024} KiB`,
    stepUpMaxAgeSec: deps.stepUpMaxAgeSec,
  };
  return [
    listProductsRoute(route),
    createProductRoute(route),
    getProductRoute(route),
    patchProductRoute(route),
    deleteProductRoute(route),
    listSnapshotsRoute(route),
  ].map((declared) => ({ ...declared, handler: answering(declared.handler) }));
}
