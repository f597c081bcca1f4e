import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { createOutboxDrainer } from '../src/products/events.js';
import type { ChangeEvent, ProductRepository, Written } from '../src/products/repository.js';
import type { Product } from '../src/products/schema.js';
import { bearer, fetchToken, localTestConfig, startService, type RunningService } from './support/service.js';

// The guarantee: a change is stored with its event in one conditional write; publishing happens after, is retried,
// and can never lose or roll back the change. Delivery is at least once, in version order per product.
describe('change events when the publisher fails', () => {
  let running: RunningService;
  let token: string;
  let failing = true;
  const published: ChangeEvent[] = [];

  before(async () => {
    running = await startService(localTestConfig(), {
      publisher: {
        publish(event) {
          if (failing) return Promise.reject(new Error('SNS is down'));
          published.push(event);
          return Promise.resolve();
        },
      },
    });
    token = await fetchToken(running.service.localIssuer?.tokenUrl ?? '', {
      id: 'local-client',
      secret: 'local-client-secret',
    });
  });
  after(() => running.close());

  it('keeps the write, then delivers every event in order once the publisher is back', async () => {
    const created = await fetch(`${running.url}/products`, {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Trek Fuel', imageURL: 'https://images.example.com/fuel.png' }),
    });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: string };
    const patched = await fetch(`${running.url}/products/${id}`, {
      method: 'PATCH',
      headers: { ...bearer(token), 'content-type': 'application/json-patch+json' },
      body: JSON.stringify([{ op: 'replace', path: '/name', value: 'Trek Fuel EX' }]),
    });
    assert.equal(patched.status, 200);

    // The product is there, at its new version, although no event went out.
    const read = await fetch(`${running.url}/products/${id}`, { headers: bearer(token) });
    assert.equal(((await read.json()) as { version: number }).version, 2);
    assert.equal(published.length, 0);
    assert.equal(
      (await running.service.repository.outbox(id, undefined)).entries.length,
      2,
      'both events wait in the outbox',
    );

    failing = false;
    await running.service.drainer.drainPending();
    assert.deepEqual(
      published.map((e) => [e.type, e.id, e.version]),
      [
        ['created', id, 1],
        ['updated', id, 2],
      ],
    );
    assert.equal((await running.service.repository.outbox(id, undefined)).entries.length, 0);
    const history = await fetch(`${running.url}/products/${id}/snapshots`, { headers: bearer(token) });
    assert.deepEqual(
      ((await history.json()) as { items: { version: number }[] }).items.map((s) => s.version),
      [2, 1],
    );

    // A second sweep finds nothing more to send.
    await running.service.drainer.drainPending();
    assert.equal(published.length, 2);
  });

  it('delivers a change still pending from before with the next write, oldest first', async () => {
    failing = true;
    published.length = 0;
    const created = await fetch(`${running.url}/products`, {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Trek Top Fuel', imageURL: 'https://images.example.com/top-fuel.png' }),
    });
    const { id } = (await created.json()) as { id: string };
    failing = false;
    // No sweep: the patch's own write returns the outbox with the pending "created" entry, and its drain sends both.
    await fetch(`${running.url}/products/${id}`, {
      method: 'PATCH',
      headers: { ...bearer(token), 'content-type': 'application/json-patch+json' },
      body: JSON.stringify([{ op: 'replace', path: '/name', value: 'Trek Top Fuel 9' }]),
    });
    assert.deepEqual(
      published.map((e) => [e.type, e.version]),
      [
        ['created', 1],
        ['updated', 2],
      ],
    );
  });
});

// In AWS the products table may be large: looking for pending entries must cost in proportion to what is pending,
// not to the table. Every change marks its product in a sparse index (PendingOutbox) and the drain of its last entry
// unmarks it, so the drainer's rounds query that index only.
describe('retrying failed drains', () => {
  let running: RunningService;
  before(async () => {
    running = await startService(localTestConfig());
  });
  after(() => running.close());

  const fields = { name: 'Trek Marlin', imageURL: 'https://images.example.com/marlin.png' };
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const newProduct = (): Product => ({
    ...fields,
    id: randomBytes(16).toString('base64url'),
    version: 1,
    lastModified: new Date().toISOString(),
  });
  async function create(repository: ProductRepository): Promise<Written> {
    const written = await repository.create(newProduct(), undefined, undefined);
    assert.notEqual(written, 'exists');
    return written as Written;
  }
  const pendingNow = (repository: ProductRepository) =>
    repository.pendingSince(new Date(Date.now() + 1000), 1000, undefined);

  function drainerUnderTest() {
    const repository = running.service.repository;
    let queries = 0;
    let up = false;
    const published: ChangeEvent[] = [];
    const drainer = createOutboxDrainer({
      repository: {
        ...repository,
        pendingSince(before, limit, signal) {
          queries += 1;
          return repository.pendingSince(before, limit, signal);
        },
      },
      publisher: {
        publish(event) {
          if (!up) return Promise.reject(new Error('SNS is down'));
          published.push(event);
          return Promise.resolve();
        },
      },
      logger: pino({ level: 'silent' }),
    });
    return { drainer, repository, published, queries: () => queries, publisherUp: () => (up = true) };
  }

  it('keeps a product in the pending index exactly while it has undelivered entries', async () => {
    const t = drainerUnderTest();
    const { product, outbox } = await create(t.repository);
    assert.ok((await pendingNow(t.repository)).includes(product.id), 'marked by the write itself');
    assert.equal(await t.drainer.drain(product.id, outbox), false);
    assert.ok((await pendingNow(t.repository)).includes(product.id), 'still marked after a failed publish');
    t.publisherUp();
    assert.equal(await t.drainer.drain(product.id, outbox), true);
    assert.ok(!(await pendingNow(t.repository)).includes(product.id), 'unmarked once delivered');
    assert.equal((await t.repository.outbox(product.id, undefined)).entries.length, 0);
  });

  it('keeps the mark when a newer change arrived while an older outbox was drained', async () => {
    const t = drainerUnderTest();
    t.publisherUp();
    const { product, outbox } = await create(t.repository);
    const updated = await t.repository.update(product, { ...fields, name: 'Trek Marlin 7' }, undefined);
    assert.notEqual(updated, 'conflict');
    // The drain knows the outbox as of version 1 only: removing its entry must not unmark the product, since the
    // entry of version 2 is still to go.
    await t.drainer.drain(product.id, outbox);
    assert.ok((await pendingNow(t.repository)).includes(product.id));
    await t.drainer.drainPending();
    assert.deepEqual(
      t.published.filter((e) => e.id === product.id).map((e) => e.version),
      [1, 2],
    );
    assert.ok(!(await pendingNow(t.repository)).includes(product.id));
  });

  it('delivers what a failure left behind within two intervals, found by a round that queries the pending index', async () => {
    const t = drainerUnderTest();
    const intervalMs = 200;
    t.drainer.start(intervalMs);
    while (t.queries() === 0) await sleep(5); // the round at start
    const { product, outbox } = await create(t.repository);
    assert.equal(await t.drainer.drain(product.id, outbox), false);
    t.publisherUp();
    const left = performance.now();
    while (!t.published.some((e) => e.id === product.id) && performance.now() - left < 20 * intervalMs) {
      await sleep(10);
    }
    const took = performance.now() - left;
    await t.drainer.stop();
    assert.ok(
      t.published.some((e) => e.id === product.id),
      'delivered',
    );
    assert.ok(took < 2 * intervalMs + 150, `delivered after ${took.toFixed(0)} ms`);
    assert.ok(t.queries() >= 1);
  });

  it('ends a round that delivers nothing, however much is pending', { timeout: 20_000 }, async () => {
    const t = drainerUnderTest();
    // A full page of pending products (a round reads 100 at a time) while the publisher is down.
    await Promise.all(Array.from({ length: 100 }, () => create(t.repository)));
    await t.drainer.drainPending();
    assert.equal(t.queries(), 1, 'one page read, nothing delivered: it stops until the next round');
    assert.equal(t.published.length, 0);
  });
});
