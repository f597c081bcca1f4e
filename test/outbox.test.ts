import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { createOutboxDrainer } from '../src/products/events.js';
import type { ChangeEvent } from '../src/products/repository.js';
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
    assert.equal((await running.service.repository.outbox(id)).length, 2, 'both events wait in the outbox');

    failing = false;
    await running.service.drainer.drainAll();
    assert.deepEqual(
      published.map((e) => [e.type, e.id, e.version]),
      [
        ['created', id, 1],
        ['updated', id, 2],
      ],
    );
    assert.equal((await running.service.repository.outbox(id)).length, 0);
    const history = await fetch(`${running.url}/products/${id}/snapshots`, { headers: bearer(token) });
    assert.deepEqual(
      ((await history.json()) as { items: { version: number }[] }).items.map((s) => s.version),
      [2, 1],
    );

    // A second sweep finds nothing more to send.
    await running.service.drainer.drainAll();
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

// In AWS the products table may be large: scanning it for pending entries on every round would cost read capacity in
// proportion to the table. The drainer scans once at start (for what a stopped process left behind) and otherwise
// retries exactly the products whose drain failed.
describe('retrying failed drains', () => {
  let running: RunningService;
  before(async () => {
    running = await startService(localTestConfig());
  });
  after(() => running.close());

  const fields = { name: 'Trek Marlin', imageURL: 'https://images.example.com/marlin.png' };
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  async function waitFor(condition: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !condition(); i += 1) await sleep(10);
    assert.ok(condition(), 'timed out');
  }

  function drainerUnderTest(maxRemembered?: number) {
    const repository = running.service.repository;
    let scans = 0;
    let up = false;
    const published: ChangeEvent[] = [];
    const drainer = createOutboxDrainer({
      repository: {
        ...repository,
        withPendingOutbox(limit) {
          scans += 1;
          return repository.withPendingOutbox(limit);
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
      ...(maxRemembered === undefined ? {} : { maxRemembered }),
    });
    return { drainer, repository, published, scans: () => scans, publisherUp: () => (up = true) };
  }

  it('sweeps the table once at start, then retries only the products whose drain failed', async () => {
    const t = drainerUnderTest();
    t.drainer.start(20);
    await waitFor(() => t.scans() === 1);
    const { product, pending } = await t.repository.create(fields);
    await t.drainer.drain(product.id, pending);
    assert.equal(t.published.length, 0);
    t.publisherUp();
    await waitFor(() => t.published.some((e) => e.id === product.id));
    await sleep(100); // five more rounds
    assert.equal(t.scans(), 1, 'no scan after the one at start');
    assert.equal((await t.repository.outbox(product.id)).length, 0);
    await t.drainer.stop();
  });

  it('ends a sweep that delivers nothing, even with more failures than it remembers', { timeout: 20_000 }, async () => {
    const t = drainerUnderTest(1);
    // A full page of pending products (the sweep reads 100 at a time) while the publisher is down.
    await Promise.all(Array.from({ length: 100 }, () => t.repository.create(fields)));
    await t.drainer.drainAll();
    assert.equal(t.scans(), 1, 'one page read, nothing delivered: it stops and sweeps again on a later round');
    assert.equal(t.published.length, 0);
  });

  it('falls back to a sweep when more products failed than it remembers', async () => {
    const t = drainerUnderTest(1);
    t.drainer.start(20);
    await waitFor(() => t.scans() === 1);
    const a = await t.repository.create(fields);
    const b = await t.repository.create(fields);
    await t.drainer.drain(a.product.id, a.pending);
    await t.drainer.drain(b.product.id, b.pending);
    t.publisherUp();
    await waitFor(() => [a, b].every(({ product }) => t.published.some((e) => e.id === product.id)));
    assert.ok(t.scans() >= 2, 'the product it could not remember was found by a sweep');
    await t.drainer.stop();
  });
});
