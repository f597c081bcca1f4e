// What the smoke suite checks on a deployment: the contract a client relies on (docs/products-api.md,
// docs/authentication.md#refusals), seen from outside, one check per line of output.
import { randomUUID } from 'node:crypto';
import { CheckFailure, type Answer, type Client } from './client.js';
import { responseValidator, type ResponseCheck } from './openapi-validator.js';

export interface Check {
  readonly name: string;
  run(): Promise<void>;
}

/** The two tokens the checks use; absent when the token endpoint would not give one (its own check says why). */
export interface Tokens {
  /** products/read and products/write. */
  readonly readWrite: string | undefined;
  readonly readOnly: string | undefined;
}

function need(token: string | undefined, which: string): string {
  if (token === undefined) throw new CheckFailure(`not run: no ${which} token (see its check above)`);
  return token;
}

/** The house error body's `error` code, when there is one: it says at once why an answer was not the one expected. */
function codeOf(answer: Answer): string {
  const code = (answer.json as { error?: unknown } | undefined)?.error;
  return typeof code === 'string' ? ` ${code}` : '';
}

function expectStatus(answer: Answer, status: number): void {
  if (answer.status !== status) throw new CheckFailure(`answered ${answer.status}${codeOf(answer)}, not ${status}`);
}

/** RFC 6750 §3: every 401 and 403 carries a Bearer challenge; the error code, when there is one, is in it. */
function expectChallenge(answer: Answer, error?: string): void {
  const challenge = answer.headers.get('www-authenticate');
  if (challenge === null || !/^Bearer(\s|$)/i.test(challenge)) {
    throw new CheckFailure(`no WWW-Authenticate: Bearer challenge (${challenge ?? 'none'})`);
  }
  if (error !== undefined && !challenge.includes(`error="${error}"`)) {
    throw new CheckFailure(`the challenge has no error="${error}"`);
  }
}

/** Every answer of the service carries the id its log line has, so a failed smoke run can be found in the logs. */
function expectRequestId(answer: Answer): void {
  if (!answer.headers.get('x-request-id')) throw new CheckFailure(`answered ${answer.status} without X-Request-Id`);
}

// A path the service will never serve: 401 before authentication says nothing about what exists, 404 after it.
const unknownPath = '/smoke/no-such-path';

// A product id no product can have, yet well-formed (22 base64url characters), so that the service looks it up in
// the store rather than refusing it at the route: ids are 16 random bytes in base64url (src/products/service.ts), so
// their last character carries 2 bits and is one of A, Q, g, w; this one ends in `_`.
const unknownId = 'smoke-no-such-product_';

/** The deployment's own `/openapi.json`, asked for once and shared by the checks that need it. */
function documentOf(client: Client): () => Promise<ResponseCheck> {
  let loaded: Promise<ResponseCheck> | undefined;
  return () =>
    (loaded ??= client.request('GET', '/openapi.json').then((answer) => {
      expectStatus(answer, 200);
      const document = answer.json as { openapi?: unknown; paths?: Record<string, unknown> } | undefined;
      if (typeof document?.openapi !== 'string' || document.paths?.['/products'] === undefined) {
        throw new CheckFailure('the body is not an OpenAPI document with a /products path');
      }
      try {
        return responseValidator(document);
      } catch (error) {
        // Ajv refuses a document whose schemas do not compile; its message names the schema, nothing secret.
        throw new CheckFailure(`the document's schemas do not compile (${String(error)})`);
      }
    }));
}

/** Checks that change nothing: safe against production, and independent of each other, so they run together. */
export function readChecks(client: Client, tokens: Tokens): readonly Check[] {
  const document = documentOf(client);
  return [
    {
      name: 'GET /hello is 200',
      async run() {
        expectStatus(await client.request('GET', '/hello'), 200);
      },
    },
    {
      name: 'GET /ready is 200 and ready (the issuer keys are held)',
      async run() {
        const answer = await client.request('GET', '/ready');
        expectStatus(answer, 200);
        if ((answer.json as { ready?: unknown } | undefined)?.ready !== true) {
          throw new CheckFailure('the body does not say "ready": true');
        }
      },
    },
    {
      name: 'GET /openapi.json is 200 and an OpenAPI document with /products',
      async run() {
        await document();
      },
    },
    {
      name: 'GET /products without a token is 401 with a Bearer challenge',
      async run() {
        const answer = await client.request('GET', '/products');
        expectStatus(answer, 401);
        expectChallenge(answer);
      },
    },
    {
      name: 'GET /products with a garbage token is 401 invalid_token',
      async run() {
        // RFC 6750 b64token syntax, so that it is refused as a token (401), not as a malformed header (400).
        const answer = await client.request('GET', '/products', { token: `garbage-${randomUUID()}` });
        expectStatus(answer, 401);
        expectChallenge(answer, 'invalid_token');
      },
    },
    {
      name: `GET ${unknownPath} (no such path) without a token is 401`,
      async run() {
        const answer = await client.request('GET', unknownPath);
        expectStatus(answer, 401);
        expectChallenge(answer);
      },
    },
    {
      name: `GET ${unknownPath} (no such path) with a token is 404`,
      async run() {
        expectStatus(await client.request('GET', unknownPath, { token: need(tokens.readWrite, 'read-write') }), 404);
      },
    },
    {
      name: 'POST /products with a products/read token is 403 insufficient_scope',
      async run() {
        // An invalid body: a deployment that forgot the scope check answers 400 and makes nothing (a failure too).
        const answer = await client.request('POST', '/products', {
          token: need(tokens.readOnly, 'products/read'),
          headers: { 'content-type': 'application/json' },
          body: '{}',
        });
        expectStatus(answer, 403);
        expectChallenge(answer, 'insufficient_scope');
      },
    },
    // The store reads (issue 28): without them a deployment that has lost its store (IAM, table, network) passed
    // every read check. Reads only, so safe against production.
    {
      name: 'GET /products?limit=1 with a products/read token is 200 and valid against /openapi.json',
      async run() {
        const path = '/products?limit=1';
        const answer = await client.request('GET', path, { token: need(tokens.readOnly, 'products/read') });
        expectStatus(answer, 200);
        const check = await document().catch(() => {
          throw new CheckFailure('not checked: no OpenAPI document (see its check above)');
        });
        const broken = check('GET', path, answer.status, answer.json);
        if (broken !== undefined) throw new CheckFailure(`the page breaks the document: ${broken}`);
      },
    },
    {
      name: 'GET /products/{an id no product can have} with a products/read token is 404 not_found',
      async run() {
        const answer = await client.request('GET', `/products/${unknownId}`, {
          token: need(tokens.readOnly, 'products/read'),
        });
        expectStatus(answer, 404);
        // The house error shape (docs/products-api.md#error-answers).
        const body = answer.json as { error?: unknown; error_description?: unknown } | undefined;
        if (body?.error !== 'not_found' || typeof body.error_description !== 'string') {
          throw new CheckFailure('the body is not {"error": "not_found", "error_description": …}');
        }
      },
    },
  ];
}

interface Made {
  readonly id: string;
  etag: string;
}

/**
 * The write round trip: one product, named for the smoke suite, created, read, patched, its history read, and
 * deleted. The checks share the product, so they run in order; the DELETE runs whenever the POST made one.
 */
export function writeChecks(client: Client, token: string | undefined): readonly Check[] {
  const name = `smoke-${randomUUID()}`;
  let made: Made | undefined;
  const product = (): Made => {
    if (!made) throw new CheckFailure('not run: the POST made no product');
    return made;
  };
  const call = async (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) => {
    const answer = await client.request(method, path, {
      token: need(token, 'read-write'),
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    expectRequestId(answer);
    return answer;
  };
  const etagOf = (answer: Answer): string => {
    const etag = answer.headers.get('etag');
    if (!etag) throw new CheckFailure(`answered ${answer.status} without an ETag`);
    return etag;
  };
  const versionOf = (answer: Answer) => (answer.json as { version?: unknown } | undefined)?.version;

  return [
    {
      name: 'POST /products is 201 with Location and ETag',
      async run() {
        const answer = await call(
          'POST',
          '/products',
          { 'content-type': 'application/json' },
          {
            name,
            imageURL: 'https://images.example.com/smoke.png',
            description: 'Made by npm run smoke, which deletes it again.',
          },
        );
        expectStatus(answer, 201);
        const id = (answer.json as { id?: unknown } | undefined)?.id;
        if (typeof id !== 'string') throw new CheckFailure('the body has no id');
        // Kept before anything else can fail, so that the DELETE below cleans up whatever the POST made.
        made = { id, etag: '' };
        made.etag = etagOf(answer);
        if (answer.headers.get('location') !== `/products/${id}`) {
          throw new CheckFailure(`Location is ${answer.headers.get('location') ?? 'missing'}, not /products/${id}`);
        }
      },
    },
    {
      name: 'GET /products/{id} is 200 with the product',
      async run() {
        const answer = await call('GET', `/products/${product().id}`);
        expectStatus(answer, 200);
        if ((answer.json as { name?: unknown } | undefined)?.name !== name) {
          throw new CheckFailure('the body is not the product the POST made');
        }
        if (etagOf(answer) !== product().etag) throw new CheckFailure('the ETag is not the one the POST gave');
      },
    },
    {
      name: 'PATCH /products/{id} (JSON Patch, If-Match) is 200 with version 2',
      async run() {
        const answer = await call(
          'PATCH',
          `/products/${product().id}`,
          { 'content-type': 'application/json-patch+json', 'if-match': product().etag },
          [{ op: 'add', path: '/tags', value: ['smoke'] }],
        );
        expectStatus(answer, 200);
        product().etag = etagOf(answer);
        if (versionOf(answer) !== 2) throw new CheckFailure(`the version is ${String(versionOf(answer))}, not 2`);
      },
    },
    {
      name: 'GET /products/{id}/snapshots is 200 with versions 2 and 1',
      async run() {
        const answer = await call('GET', `/products/${product().id}/snapshots`);
        expectStatus(answer, 200);
        const items = (answer.json as { items?: unknown } | undefined)?.items;
        const versions = Array.isArray(items) ? items.map((item) => (item as { version?: unknown }).version) : [];
        if (versions.join() !== '2,1') throw new CheckFailure(`the versions are [${versions.join()}], not [2,1]`);
      },
    },
    {
      name: 'DELETE /products/{id} is 204',
      async run() {
        expectStatus(await call('DELETE', `/products/${product().id}`), 204);
      },
    },
    {
      name: 'GET /products/{id} after DELETE is 410',
      async run() {
        expectStatus(await call('GET', `/products/${product().id}`), 410);
      },
    },
  ];
}
