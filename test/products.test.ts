import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { ChangeEvent } from '../src/products/repository.js';
import { ProductError } from '../src/products/outcomes.js';
import { notHttpUris } from './support/image-uris.js';
import { bearer, fetchToken, localTestConfig, startService, type RunningService } from './support/service.js';

interface Product {
  id: string;
  name: string;
  imageURL: string;
  version: number;
  lastModified: string;
  tags?: string[];
  deleted?: boolean;
}

const client = { id: 'local-client', secret: 'local-client-secret' };
const valid = { name: 'Trek Domane', imageURL: 'https://images.example.com/domane.png' };

// Against the service as `npm start` builds it: embedded issuer, embedded DynamoDB (dynalite), real HTTP.
describe('the products API', () => {
  let running: RunningService;
  let writer: string;
  let reader: string;
  const events: ChangeEvent[] = [];

  before(async () => {
    running = await startService(localTestConfig(), {
      publisher: {
        publish(event) {
          events.push(event);
          return Promise.resolve();
        },
      },
    });
    const tokenUrl = running.service.localIssuer?.tokenUrl ?? '';
    writer = await fetchToken(tokenUrl, client);
    reader = await fetchToken(tokenUrl, client, 'products/read');
  });
  after(() => running.close());

  const call = (path: string, init: RequestInit & { token?: string } = {}) =>
    fetch(`${running.url}${path}`, {
      ...init,
      headers: { ...bearer(init.token ?? writer), ...(init.headers as Record<string, string> | undefined) },
    });
  const create = async (body: unknown = valid) => {
    const response = await call('/products', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(response.status, 201, await response.clone().text());
    return { response, product: (await response.json()) as Product };
  };
  const patch = (id: string, operations: unknown, headers: Record<string, string> = {}) =>
    call(`/products/${id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json-patch+json', ...headers },
      body: JSON.stringify(operations),
    });
  const errorsOf = async (response: Response) =>
    ((await response.json()) as { errors?: Record<string, string[]> }).errors;

  describe('POST /products', () => {
    it('creates a product: 201 with Location, ETag and a server-made, URL-safe, unguessable id', async () => {
      const { response, product } = await create({
        ...valid,
        tags: ['road'],
        price: { amount: 2999.99, currency: 'EUR' },
      });
      assert.match(product.id, /^[A-Za-z0-9_-]{22}$/);
      assert.equal(response.headers.get('location'), `/products/${product.id}`);
      assert.equal(response.headers.get('etag'), '"1"');
      assert.equal(product.version, 1);
      assert.ok(!Number.isNaN(Date.parse(product.lastModified)));
      const read = await call(`/products/${product.id}`);
      assert.equal(read.status, 200);
      assert.equal(read.headers.get('etag'), '"1"');
      assert.deepEqual(await read.json(), product);
    });

    it('answers invalid input with 400 and every error keyed by JSON Pointer', async () => {
      const response = await call('/products', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          name: '   ',
          imageURL: 'ftp://x/y',
          price: { amount: -1, currency: 'usd' },
          colour: 'red',
        }),
      });
      assert.equal(response.status, 400);
      const errors = await errorsOf(response);
      assert.deepEqual(Object.keys(errors ?? {}).sort(), [
        '/colour',
        '/imageURL',
        '/name',
        '/price/amount',
        '/price/currency',
      ]);
    });

    it('says what each field must be, in the house style, and refuses a currency ISO 4217 does not have', async () => {
      const response = await call('/products', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ imageURL: 'not a url', price: { amount: '5', currency: 'ZZZ' }, tags: [''] }),
      });
      assert.equal(response.status, 400);
      assert.deepEqual(await errorsOf(response), {
        '/name': ['is required'],
        '/imageURL': ['must be an absolute http(s) URI (RFC 3986)'],
        '/price/amount': ['must be a number'],
        '/price/currency': ['must be an ISO 4217 code such as USD'],
        '/tags/0': ['must not be blank'],
      });
    });

    // The document says `format: uri`, which a client's validator reads as RFC 3986 §3 (absolute URI, ASCII only,
    // percent-escapes of two hex digits, none of space, `"<>{}|^` or controls). The URL parser takes all of these.
    it('refuses with 400 an imageURL that is not an absolute http(s) URI, and stores a valid one exactly as sent', async () => {
      for (const imageURL of notHttpUris) {
        const response = await call('/products', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'Trek Domane', imageURL }),
        });
        assert.equal(response.status, 400, imageURL);
        assert.deepEqual(await errorsOf(response), { '/imageURL': ['must be an absolute http(s) URI (RFC 3986)'] });
      }
      const asSent = 'HTTPS://Images.Example.COM:443/caf%C3%A9.png?size=large#top';
      const created = await call('/products', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Trek Domane', imageURL: asSent }),
      });
      assert.equal(created.status, 201);
      assert.equal(((await created.json()) as { imageURL: string }).imageURL, asSent, 'not normalised');
    });

    it('answers wrongly typed and missing fields with 400, never 500', async () => {
      for (const body of [{ name: 42, imageURL: valid.imageURL }, { imageURL: valid.imageURL }, [], 'text', null, 7]) {
        const response = await call('/products', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        assert.equal(response.status, 400, JSON.stringify(body));
      }
    });

    it('answers a body that is not JSON with 415, malformed JSON with 400, a huge body with 413', async () => {
      const text = await call('/products', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' });
      assert.equal(text.status, 415);
      const broken = await call('/products', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"name": "x",',
      });
      assert.equal(broken.status, 400);
      assert.equal(((await broken.json()) as { error: string }).error, 'invalid_json');
      const huge = await call('/products', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...valid, description: 'x'.repeat(100_000) }),
      });
      assert.equal(huge.status, 413);
    });

    it('takes amounts in whole cents only, checked exactly (no float multipleOf), never a 500', async () => {
      for (const amount of [0, 0.5, 19.99, 1_000_000_000]) {
        await create({ ...valid, price: { amount, currency: 'USD' } });
      }
      // 5e-324 and 1e-131 are below what DynamoDB can store (it answered 500 before); 1e-20 was stored as a price.
      for (const amount of [1e-20, 5e-324, 1e-131, 0.001, 19.999, 1e10]) {
        const response = await call('/products', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...valid, price: { amount, currency: 'USD' } }),
        });
        assert.equal(response.status, 400, String(amount));
        assert.deepEqual(Object.keys((await errorsOf(response)) ?? {}), ['/price/amount'], String(amount));
      }
    });

    it('maps a value the store itself refuses (ValidationException) to 422 unstorable, never 500', async () => {
      // Validation keeps such values out of every route, so ask the repository directly: 5e-324 underflows DynamoDB.
      const product = { ...valid, id: 'A'.repeat(22), version: 1, lastModified: new Date().toISOString() };
      await assert.rejects(
        running.service.repository.create(
          { ...product, price: { amount: 5e-324, currency: 'USD' } },
          undefined,
          undefined,
        ),
        // In the domain's words; the routes answer it 422 unstorable (test/products-outcomes.test.ts).
        (error) => error instanceof ProductError && error.code === 'unstorable',
      );
    });

    // draft-ietf-httpapi-idempotency-key-header: a client that retries a create it got no answer to must not make a
    // second product.
    describe('with an Idempotency-Key', () => {
      const post = (key: string, body: unknown = valid, token = writer) =>
        call('/products', {
          method: 'POST',
          token,
          headers: { 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify(body),
        });

      it('answers a repeat with the first result: the same product, one product, one event', async () => {
        const key = `"${randomUUID()}"`;
        const first = await post(key);
        assert.equal(first.status, 201);
        const product = (await first.json()) as Product;
        const before = events.length;
        // The same body in another order and spacing is the same request.
        const again = await post(key, { imageURL: valid.imageURL, name: valid.name });
        assert.equal(again.status, 201);
        assert.equal(again.headers.get('location'), `/products/${product.id}`);
        assert.deepEqual(await again.json(), product);
        assert.equal(events.length, before, 'no second created event');
      });

      it('gives one product to concurrent requests with the same key', async () => {
        const key = randomUUID();
        const responses = await Promise.all(Array.from({ length: 10 }, () => post(key)));
        assert.deepEqual(new Set(responses.map((r) => r.status)), new Set([201]));
        const ids = new Set(await Promise.all(responses.map(async (r) => ((await r.json()) as Product).id)));
        assert.equal(ids.size, 1);
      });

      it('answers the same key with a different body with 422, and makes nothing', async () => {
        const key = randomUUID();
        assert.equal((await post(key)).status, 201);
        const before = events.length;
        const other = await post(key, { ...valid, name: 'Trek Emonda' });
        assert.equal(other.status, 422);
        assert.equal(((await other.json()) as { error: string }).error, 'idempotency_key_reused');
        assert.equal(events.length, before);
      });

      it('refuses a malformed key with 400 before storing anything', async () => {
        for (const key of ['"', '"a b"', 'x'.repeat(256)]) {
          assert.equal((await post(key)).status, 400, key);
        }
      });

      // Sent empty, it is a key the client meant to send: taken as absent, each retry would make a new product.
      it('refuses an empty or whitespace key with 400, and stores nothing', async () => {
        const before = events.length;
        for (const key of ['', '   ', '""']) {
          const response = await post(key);
          assert.equal(response.status, 400, JSON.stringify(key));
          assert.equal(((await response.json()) as { error: string }).error, 'invalid_request');
        }
        assert.equal(events.length, before);
      });
    });

    it('refuses a read-only token with 403 insufficient_scope, and stores nothing', async () => {
      const before = events.length;
      const response = await call('/products', {
        method: 'POST',
        token: reader,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(valid),
      });
      assert.equal(response.status, 403);
      assert.match(
        response.headers.get('www-authenticate') ?? '',
        /error="insufficient_scope", .*scope="products\/write"/,
      );
      assert.equal(events.length, before);
    });
  });

  describe('GET /products/:id', () => {
    it('answers 404 for an unknown id and for one we could never have made', async () => {
      assert.equal((await call('/products/AAAAAAAAAAAAAAAAAAAAAA')).status, 404);
      assert.equal((await call('/products/..%2F..%2Fetc')).status, 404);
    });

    it('answers If-None-Match with the current ETag with 304', async () => {
      const { product } = await create();
      const response = await call(`/products/${product.id}`, { headers: { 'if-none-match': '"1"' } });
      assert.equal(response.status, 304);
      assert.equal((await call(`/products/${product.id}`, { headers: { 'if-none-match': '"0"' } })).status, 200);
    });

    it('lets a read-only token read', async () => {
      const { product } = await create();
      assert.equal((await call(`/products/${product.id}`, { token: reader })).status, 200);
    });
  });

  describe('PATCH /products/:id (RFC 6902)', () => {
    it('applies a patch: 200, the next version, a new ETag', async () => {
      const { product } = await create();
      const response = await patch(product.id, [{ op: 'replace', path: '/name', value: 'Trek Émonda' }], {
        'if-match': '"1"',
      });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('etag'), '"2"');
      const updated = (await response.json()) as Product;
      assert.equal(updated.name, 'Trek Émonda');
      assert.equal(updated.version, 2);
    });

    it('answers a stale If-Match with 412 and changes nothing', async () => {
      const { product } = await create();
      await patch(product.id, [{ op: 'replace', path: '/name', value: 'first' }]);
      const response = await patch(product.id, [{ op: 'replace', path: '/name', value: 'second' }], {
        'if-match': '"1"',
      });
      assert.equal(response.status, 412);
      assert.equal(((await (await call(`/products/${product.id}`)).json()) as Product).name, 'first');
    });

    it('answers a failing test operation with 409', async () => {
      const { product } = await create();
      const response = await patch(product.id, [
        { op: 'test', path: '/name', value: 'something else' },
        { op: 'replace', path: '/name', value: 'never' },
      ]);
      assert.equal(response.status, 409);
    });

    it('refuses to patch id, version or lastModified with 400', async () => {
      const { product } = await create();
      for (const path of ['/id', '/version', '/lastModified']) {
        const response = await patch(product.id, [{ op: 'replace', path, value: 'x' }]);
        assert.equal(response.status, 400, path);
      }
      const move = await patch(product.id, [{ op: 'move', from: '/id', path: '/name' }]);
      assert.equal(move.status, 400);
    });

    it('answers a root operation that makes the product something else with 400, never 500', async () => {
      const { product } = await create();
      for (const operations of [
        [{ op: 'remove', path: '' }],
        [{ op: 'replace', path: '', value: null }],
        [{ op: 'add', path: '', value: null }],
        [{ op: 'replace', path: '', value: [] }],
        [{ op: 'replace', path: '', value: 'text' }],
        [{ op: 'copy', from: '/missing', path: '' }],
      ]) {
        const response = await patch(product.id, operations);
        assert.equal(response.status, 400, JSON.stringify(operations));
      }
      const read = (await (await call(`/products/${product.id}`)).json()) as Product;
      assert.equal(read.version, 1, 'nothing was written');
    });

    it('refuses a root replace that changes or drops id, version or lastModified, like the path form', async () => {
      const { product } = await create();
      const { id, version, lastModified } = product;
      for (const [field, value] of [
        ['id', 'AAAAAAAAAAAAAAAAAAAAAA'],
        ['version', 99],
        ['lastModified', '2020-01-01T00:00:00.000Z'],
        ['version', undefined],
      ] as const) {
        const document = { ...valid, id, version, lastModified, [field]: value };
        const response = await patch(product.id, [{ op: 'replace', path: '', value: document }]);
        assert.equal(response.status, 400, field);
        assert.ok(Object.keys((await errorsOf(response)) ?? {}).includes(`/${field}`));
      }
      // The same replace that keeps them is an ordinary change.
      const kept = await patch(product.id, [
        { op: 'replace', path: '', value: { ...valid, name: 'Trek Domane SL', id, version, lastModified } },
      ]);
      assert.equal(kept.status, 200);
      assert.equal(((await kept.json()) as Product).version, 2);
    });

    it('validates the result: a patch that breaks the product is 400 with pointers', async () => {
      const { product } = await create();
      const removed = await patch(product.id, [{ op: 'remove', path: '/name' }]);
      assert.equal(removed.status, 400);
      assert.deepEqual(Object.keys((await errorsOf(removed)) ?? {}), ['/name']);
      const unknown = await patch(product.id, [{ op: 'add', path: '/colour', value: 'red' }]);
      assert.equal(unknown.status, 400);
    });

    it('validates the patch itself: wrong content type 415, not a patch 400, unresolvable path 400', async () => {
      const { product } = await create();
      const wrongType = await call(`/products/${product.id}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ op: 'replace', path: '/name', value: 'x' }]),
      });
      assert.equal(wrongType.status, 415);
      for (const body of [
        { op: 'replace' },
        [{ op: 'launch', path: '/name' }],
        [],
        [{ op: 'replace', path: 'name', value: 1 }],
      ]) {
        assert.equal((await patch(product.id, body)).status, 400, JSON.stringify(body));
      }
      assert.equal((await patch(product.id, [{ op: 'replace', path: '/price/amount', value: 1 }])).status, 400);
    });

    it('gives exactly one 200 and nineteen 412s for 20 parallel patches with the same ETag, and keeps that one change', async () => {
      const { product } = await create();
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          patch(product.id, [{ op: 'replace', path: '/name', value: `writer ${i}` }], { 'if-match': '"1"' }),
        ),
      );
      const statuses = responses.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 200).length, 1, statuses.join());
      assert.equal(statuses.filter((s) => s === 412).length, 19, statuses.join());
      const winner = responses.find((r) => r.status === 200);
      const won = (await winner?.json()) as Product;
      const final = (await (await call(`/products/${product.id}`)).json()) as Product;
      assert.equal(final.version, 2);
      assert.equal(final.name, won.name);
    });

    it('lets 50 concurrent patches without If-Match all succeed, and loses none of them', async () => {
      const { product } = await create({ ...valid, tags: [] });
      const tags = Array.from({ length: 50 }, (_, i) => `tag-${i}`);
      const responses = await Promise.all(
        tags.map((tag) => patch(product.id, [{ op: 'add', path: '/tags/-', value: tag }])),
      );
      assert.deepEqual(
        responses.map((r) => r.status),
        tags.map(() => 200),
      );
      const final = (await (await call(`/products/${product.id}`)).json()) as Product;
      assert.equal(final.version, 51);
      assert.deepEqual([...(final.tags ?? [])].sort(), [...tags].sort());
    });
  });

  describe('DELETE /products/:id', () => {
    it('soft-deletes: 204, then GET is 410, deleting again is harmless, and a patch is 410', async () => {
      const { product } = await create();
      assert.equal((await call(`/products/${product.id}`, { method: 'DELETE' })).status, 204);
      assert.equal((await call(`/products/${product.id}`)).status, 410);
      assert.equal((await call(`/products/${product.id}`, { method: 'DELETE' })).status, 204);
      assert.equal((await patch(product.id, [{ op: 'replace', path: '/name', value: 'x' }])).status, 410);
      assert.equal((await call('/products/AAAAAAAAAAAAAAAAAAAAAA', { method: 'DELETE' })).status, 404);
    });

    it('answers a stale If-Match with 412', async () => {
      const { product } = await create();
      await patch(product.id, [{ op: 'replace', path: '/name', value: 'changed' }]);
      assert.equal(
        (await call(`/products/${product.id}`, { method: 'DELETE', headers: { 'if-match': '"1"' } })).status,
        412,
      );
    });
  });

  describe('history and change events', () => {
    it('records every version, newest first, paginated', async () => {
      const { product } = await create();
      await patch(product.id, [{ op: 'replace', path: '/name', value: 'v2' }]);
      await patch(product.id, [{ op: 'replace', path: '/name', value: 'v3' }]);
      await call(`/products/${product.id}`, { method: 'DELETE' });
      const first = await call(`/products/${product.id}/snapshots?limit=2`);
      assert.equal(first.status, 200);
      const page1 = (await first.json()) as { items: Product[]; next: string };
      assert.deepEqual(
        page1.items.map((s) => [s.version, s.name, s.deleted]),
        [
          [4, 'v3', true],
          [3, 'v3', false],
        ],
      );
      const link = first.headers.get('link') ?? '';
      assert.match(link, /rel="next"/);
      const nextPath = /<([^>]+)>/.exec(link)?.[1] ?? '';
      const page2 = (await (await call(nextPath)).json()) as { items: Product[]; next: string | null };
      assert.deepEqual(
        page2.items.map((s) => [s.version, s.name]),
        [
          [2, 'v2'],
          [1, valid.name],
        ],
      );
    });

    it('walks the history one version a page, from the current version into the superseded ones, and ends', async () => {
      const { product } = await create();
      const only = (await (await call(`/products/${product.id}/snapshots?limit=1`)).json()) as { next: string | null };
      assert.equal(only.next, null, 'a product with one version has one page');
      await patch(product.id, [{ op: 'replace', path: '/name', value: 'v2' }]);
      await patch(product.id, [{ op: 'replace', path: '/name', value: 'v3' }]);
      const versions: number[] = [];
      let path: string | undefined = `/products/${product.id}/snapshots?limit=1`;
      while (path) {
        const response = await call(path);
        assert.equal(response.status, 200);
        const page = (await response.json()) as { items: Product[] };
        assert.equal(page.items.length, 1, 'no page is empty');
        versions.push(...page.items.map((s) => s.version));
        const link = response.headers.get('link');
        path = link ? /<([^>]+)>/.exec(link)?.[1] : undefined;
      }
      assert.deepEqual(versions, [3, 2, 1]);
      assert.equal((await call('/products/AAAAAAAAAAAAAAAAAAAAAA/snapshots')).status, 404);
    });

    it('publishes {type, id, version, at} for every create, update and delete, in order', async () => {
      const { product } = await create();
      await patch(product.id, [{ op: 'replace', path: '/name', value: 'changed' }]);
      await call(`/products/${product.id}`, { method: 'DELETE' });
      const mine = events.filter((e) => e.id === product.id);
      assert.deepEqual(
        mine.map((e) => [e.type, e.version]),
        [
          ['created', 1],
          ['updated', 2],
          ['deleted', 3],
        ],
      );
      for (const event of mine) assert.deepEqual(Object.keys(event).sort(), ['at', 'id', 'type', 'version']);
    });
  });

  describe('GET /products', () => {
    it('walks a set larger than two pages with no duplicates and no gaps, leaving deleted products out', async () => {
      const created = await Promise.all(Array.from({ length: 60 }, (_, i) => create({ ...valid, name: `bike ${i}` })));
      const deleted = created.slice(0, 5).map((c) => c.product.id);
      for (const id of deleted) await call(`/products/${id}`, { method: 'DELETE' });
      const seen: string[] = [];
      let path: string | undefined = '/products';
      let pages = 0;
      while (path) {
        const response = await call(path, { token: reader });
        assert.equal(response.status, 200);
        const page = (await response.json()) as { items: Product[]; next: string | null };
        assert.ok(page.items.length <= 25);
        seen.push(...page.items.map((p) => p.id));
        const link = response.headers.get('link');
        path = link ? /<([^>]+)>/.exec(link)?.[1] : undefined;
        assert.equal(page.next === null, path === undefined);
        pages += 1;
      }
      assert.ok(pages >= 3);
      assert.equal(new Set(seen).size, seen.length, 'no product appears twice');
      for (const { product } of created.slice(5)) assert.ok(seen.includes(product.id), 'no product is skipped');
      for (const id of deleted) assert.ok(!seen.includes(id), 'deleted products are left out');
    });

    it('refuses a forged, tampered or borrowed cursor with 400, and a bad limit', async () => {
      const first = await call('/products?limit=1');
      const { next } = (await first.json()) as { next: string };
      assert.equal((await call(`/products?cursor=${encodeURIComponent(next)}`)).status, 200);
      const [body = '', mac = ''] = next.split('.');
      const forgedBody = Buffer.from(JSON.stringify({ id: 'AAAAAAAAAAAAAAAAAAAAAA' })).toString('base64url');
      for (const cursor of [`${forgedBody}.${mac}`, `${body}.${mac.slice(0, -2)}xx`, 'garbage', body]) {
        assert.equal((await call(`/products?cursor=${encodeURIComponent(cursor)}`)).status, 400, cursor);
      }
      const { product } = await create();
      assert.equal((await call(`/products/${product.id}/snapshots?cursor=${encodeURIComponent(next)}`)).status, 400);
      for (const limit of ['0', '101', 'ten', '-1'])
        assert.equal((await call(`/products?limit=${limit}`)).status, 400, limit);
    });
  });

  describe('OpenAPI', () => {
    it('serves an OpenAPI 3.1 document without a token, naming the scope the route policy enforces', async () => {
      const response = await fetch(`${running.url}/openapi.json`);
      assert.equal(response.status, 200);
      const doc = (await response.json()) as {
        openapi: string;
        paths: Record<string, Record<string, { security: { oauth2: string[] }[]; responses: Record<string, object> }>>;
        components: {
          securitySchemes: { oauth2: { flows: { clientCredentials: { tokenUrl: string; scopes: object } } } };
        };
      };
      assert.equal(doc.openapi, '3.1.0');
      assert.equal(doc.paths['/products']?.['post']?.security[0]?.oauth2[0], 'products/write');
      assert.equal(doc.paths['/products/{id}']?.['get']?.security[0]?.oauth2[0], 'products/read');
      assert.deepEqual(doc.paths['/hello']?.['get']?.security, []);
      const getProduct = doc.paths['/products/{id}']['get'];
      for (const status of ['401', '403', '503']) {
        assert.ok(getProduct.responses[status], `a protected route documents ${status}`);
      }
      const flow = doc.components.securitySchemes.oauth2.flows.clientCredentials;
      assert.equal(flow.tokenUrl, running.service.localIssuer?.tokenUrl);
      assert.deepEqual(Object.keys(flow.scopes).sort(), ['products/read', 'products/write']);
    });
  });
});
