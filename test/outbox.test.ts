import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
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
