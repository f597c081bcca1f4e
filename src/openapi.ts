import { z } from 'zod';
import type { PolicyRule } from './auth/index.js';
import './products/schema.js';

interface Operation {
  readonly method: 'get' | 'post' | 'patch' | 'delete';
  /** In @koa/router's syntax, as in the route policy. */
  readonly path: string;
  readonly summary: string;
  readonly operationId: string;
  readonly request?: { readonly type: string; readonly schema: string };
  readonly parameters?: readonly Record<string, unknown>[];
  readonly responses: Readonly<Record<string, string | { readonly description: string; readonly schema: string }>>;
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const idParameter = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{22}$' },
};
const pageParameters = [
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 25 } },
  { name: 'cursor', in: 'query', description: 'The `next` value of the previous page', schema: { type: 'string' } },
];
const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  description:
    'draft-ietf-httpapi-idempotency-key-header: a repeat with the same key and body (within 24 hours) answers with ' +
    'the product the first request made, instead of making another',
  schema: { type: 'string', maxLength: 257 },
};
const ifMatch = {
  name: 'If-Match',
  in: 'header',
  description: 'The ETag the change is based on',
  schema: { type: 'string' },
};

const operations: readonly Operation[] = [
  {
    method: 'get',
    path: '/hello',
    operationId: 'hello',
    summary: 'Health check',
    responses: { 200: 'The service is up' },
  },
  {
    method: 'get',
    path: '/ready',
    operationId: 'ready',
    summary: 'Readiness: the issuer keys are held',
    responses: { 200: 'Ready', 503: 'Tokens cannot be checked yet' },
  },
  {
    method: 'get',
    path: '/products',
    operationId: 'listProducts',
    summary: 'List products, a page at a time (in store order, not by date)',
    parameters: pageParameters,
    responses: {
      200: { description: 'A page of products; `Link: rel="next"` when there is more', schema: 'ProductPage' },
      400: 'Bad limit or cursor',
    },
  },
  {
    method: 'post',
    path: '/products',
    operationId: 'createProduct',
    summary: 'Create a product',
    parameters: [idempotencyKey],
    request: { type: 'application/json', schema: 'ProductInput' },
    responses: {
      201: {
        description:
          'Created (or, for a repeated `Idempotency-Key`, the product it made); `Location` and `ETag` are set',
        schema: 'Product',
      },
      400: 'Invalid product (errors keyed by JSON Pointer), malformed JSON or a malformed `Idempotency-Key`',
      410: 'The product this `Idempotency-Key` made was deleted since',
      413: 'Body over 16 KiB',
      415: 'Body is not application/json',
      422: 'The `Idempotency-Key` was used for a different body',
    },
  },
  {
    method: 'get',
    path: '/products/:id',
    operationId: 'getProduct',
    summary: 'Read a product',
    parameters: [idParameter, { name: 'If-None-Match', in: 'header', schema: { type: 'string' } }],
    responses: {
      200: { description: 'The product, with its `ETag`', schema: 'Product' },
      304: 'Not modified',
      404: 'No such product',
      410: 'Deleted',
    },
  },
  {
    method: 'patch',
    path: '/products/:id',
    operationId: 'patchProduct',
    summary: 'Change a product with a JSON Patch (RFC 6902)',
    parameters: [idParameter, ifMatch],
    request: { type: 'application/json-patch+json', schema: 'JsonPatch' },
    responses: {
      200: { description: 'The new version', schema: 'Product' },
      400: 'Invalid patch, an invalid result, or a change to `id`, `version` or `lastModified`',
      404: 'No such product',
      409: 'A test operation failed; or the product changed too often to apply the patch in time (`Retry-After`)',
      410: 'Deleted',
      412: '`If-Match` names an older version',
      413: 'Body over 16 KiB',
      415: 'Body is not application/json-patch+json',
    },
  },
  {
    method: 'delete',
    path: '/products/:id',
    operationId: 'deleteProduct',
    summary: 'Delete a product (soft: it answers 410 afterwards)',
    parameters: [idParameter, ifMatch],
    responses: {
      204: 'Deleted (also when already deleted)',
      404: 'No such product',
      409: 'The product changed too often to delete it in time (`Retry-After`)',
      412: '`If-Match` names an older version',
    },
  },
  {
    method: 'get',
    path: '/products/:id/snapshots',
    operationId: 'listSnapshots',
    summary: 'Every version of a product, newest first',
    parameters: [idParameter, ...pageParameters],
    responses: {
      200: { description: 'A page of versions', schema: 'SnapshotPage' },
      400: 'Bad limit or cursor',
      404: 'No such product',
    },
  },
];

export interface OpenApiOptions {
  readonly policyRules: readonly PolicyRule[];
  /** The OAuth2 token endpoint clients use (the embedded issuer's, or the Cognito domain's). */
  readonly tokenUrl: string | undefined;
  readonly scopes: Readonly<Record<string, string>>;
}

/** The scopes the route policy demands for an operation: the docs and the enforcement share one source. */
export function scopesFor(rules: readonly PolicyRule[], method: string, path: string): readonly string[] | 'public' {
  const rule = rules.find((r) => r.method === method.toUpperCase() && r.path === path);
  if (!rule) return [];
  if (rule.access.kind === 'public') return 'public';
  const scopes = rule.access.scopes;
  return scopes ? ('allOf' in scopes ? scopes.allOf : scopes.anyOf) : [];
}

/** OpenAPI 3.1, generated from the zod schemas that validate requests and from the route policy. */
export function createOpenApiDocument(options: OpenApiOptions): Record<string, unknown> {
  const { schemas } = z.toJSONSchema(z.globalRegistry, {
    target: 'draft-2020-12',
    uri: (id) => `#/components/schemas/${id}`,
  });
  const components: Record<string, unknown> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _schema, $id: _id, ...rest } = schema as Record<string, unknown>;
    components[id] = rest;
  }
  // With a token endpoint, the page can get a token itself (client_credentials); without one (an OIDC issuer whose
  // OAUTH_TOKEN_URL is not set), a person pastes a token: never a URL that nothing serves.
  const scheme = options.tokenUrl === undefined ? 'bearer' : 'oauth2';
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const access = scopesFor(options.policyRules, op.method, op.path);
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(op.responses)) {
      responses[status] =
        typeof response === 'string'
          ? {
              description: response,
              ...(Number(status) >= 400 ? { content: { 'application/json': { schema: ref('Error') } } } : {}),
            }
          : { description: response.description, content: { 'application/json': { schema: ref(response.schema) } } };
    }
    if (access !== 'public') {
      responses['401'] = {
        description: 'No token, or a bad one (RFC 6750)',
        content: { 'application/json': { schema: ref('Error') } },
      };
      responses['403'] = {
        description: 'The token lacks the scope',
        content: { 'application/json': { schema: ref('Error') } },
      };
      responses['503'] = {
        description: "The issuer's keys or the product store cannot be had now; try again after `Retry-After`",
        headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer', minimum: 0 } } },
        content: { 'application/json': { schema: ref('Error') } },
      };
    }
    (paths[op.path.replace(/:(\w+)/g, '{$1}')] ??= {})[op.method] = {
      summary: op.summary,
      operationId: op.operationId,
      ...(op.parameters ? { parameters: op.parameters } : {}),
      ...(op.request
        ? { requestBody: { required: true, content: { [op.request.type]: { schema: ref(op.request.schema) } } } }
        : {}),
      responses,
      security: access === 'public' ? [] : [{ [scheme]: [...access] }],
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'ProductService',
      version: '0.1.0',
      description: 'A products API behind OAuth2 bearer tokens from AWS Cognito or any OpenID Connect issuer.',
    },
    paths,
    components: {
      schemas: components,
      securitySchemes:
        options.tokenUrl === undefined
          ? { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token' } }
          : {
              oauth2: {
                type: 'oauth2',
                flows: { clientCredentials: { tokenUrl: options.tokenUrl, scopes: options.scopes } },
              },
            },
    },
    security: [{ [scheme]: [] }],
  };
}
