import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChangeEvent } from '../src/products/repository.js';
import { startStoreProcess, type StoreProcess } from './support/processes.js';
import { bearer, fetchToken, localTestConfig, startService, type RunningService } from './support/service.js';

interface Product {
  id: string;
  name: string;
  version: number;
  tags?: string[];
}

// A store that freezes (SIGSTOP: connections stay open, nothing answers) in the middle of writes, then comes back.
// What a client must see: answers within the deadline, 503 with Retry-After while it is frozen, never a 500; a retried
// create with its Idempotency-Key makes no duplicate; no acknowledged change is lost; and every stored change has its
// event published within two drain intervals, without a restart. FREEZE_TEST_SECONDS lengthens the load.
describe('a store frozen in the middle of writes', () => {
  const loadMs = 1000 * Number(process.env['FREEZE_TEST_SECONDS'] ?? 3.5);
  const deadlineMs = 1200;
  const drainIntervalSec = 1;
  let store: StoreProcess;
  let running: RunningService;
  let token: string;
  const published: ChangeEvent[] = [];

  before(async () => {
    store = await startStoreProcess();
    running = await startService(
      localTestConfig({
        DYNAMODB_ENDPOINT: store.endpoint,
        DYNAMODB_TIMEOUT_MS: '300',
        DYNAMODB_MAX_ATTEMPTS: '2',
        STORE_DEADLINE_MS: String(deadlineMs),
        OUTBOX_DRAIN_INTERVAL_SECONDS: String(drainIntervalSec),
      }),
      {
        publisher: {
          publish(event) {
            published.push(event);
            return Promise.resolve();
          },
        },
      },
    );
    token = await fetchToken(running.service.localIssuer?.tokenUrl ?? '', {
      id: 'local-client',
      secret: 'local-client-secret',
    });
  });
  after(async () => {
    await running.close();
    await store.close();
  });

  const call = async (path: string, init: RequestInit = {}) => {
    const started = performance.now();
    const response = await fetch(`${running.url}${path}`, {
      ...init,
      headers: { ...bearer(token), ...(init.headers as Record<string, string> | undefined) },
    });
    return { response, ms: performance.now() - started };
  };

  it(
    'answers 201/200 or a bounded 503, loses nothing, duplicates nothing, strands no event',
    { timeout: 60_000 },
    async (t) => {
      const statuses = new Map<number, number>();
      let slowest = 0;
      const acknowledgedTags = new Map<string, string[]>();
      const keys = new Map<string, string | undefined>(); // idempotency key -> product id, once acknowledged
      const seen = (status: number, ms: number) => {
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        slowest = Math.max(slowest, ms);
        if (status === 503 || status >= 500) return;
        assert.ok(status < 300, `unexpected ${status}`);
      };

      const targets: string[] = [];
      for (let i = 0; i < 3; i += 1) {
        const { response } = await call('/products', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: `frozen-target-${i}`, imageURL: 'https://images.example.com/t.png', tags: [] }),
        });
        assert.equal(response.status, 201);
        targets.push(((await response.json()) as Product).id);
      }

      const end = performance.now() + loadMs;
      // A client that creates: retries with the same key until it gets its 201.
      async function creator(n: number): Promise<void> {
        for (let i = 0; performance.now() < end; i += 1) {
          const key = `${n}-${i}-${randomUUID()}`;
          keys.set(key, undefined);
          while (performance.now() < end + 10_000) {
            const { response, ms } = await call('/products', {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'idempotency-key': key },
              body: JSON.stringify({ name: `frozen-${key}`, imageURL: 'https://images.example.com/f.png' }),
            });
            seen(response.status, ms);
            if (response.status === 201) {
              keys.set(key, ((await response.json()) as Product).id);
              break;
            }
            assert.match(response.headers.get('retry-after') ?? '', /^\d+$/);
            await response.body?.cancel();
            await sleep(50);
          }
        }
      }
      // A client that patches: each acknowledged tag must be there at the end.
      async function patcher(n: number): Promise<void> {
        for (let i = 0; performance.now() < end; i += 1) {
          const id = targets[(n + i) % targets.length] ?? '';
          const tag = `p${n}-${i}`;
          const { response, ms } = await call(`/products/${id}`, {
            method: 'PATCH',
            headers: { 'content-type': 'application/json-patch+json' },
            body: JSON.stringify([{ op: 'add', path: '/tags/-', value: tag }]),
          });
          seen(response.status, ms);
          await response.body?.cancel();
          if (response.status === 200) acknowledgedTags.set(id, [...(acknowledgedTags.get(id) ?? []), tag]);
          else await sleep(50);
        }
      }

      // A client that gives up after a 503: a create it sent just before the freeze may land once the store is back,
      // and then nothing but the drainer's rounds will ever deliver its event.
      async function quitter(): Promise<void> {
        for (let i = 0; performance.now() < end; i += 1) {
          const { response, ms } = await call('/products', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ name: `frozen-quitter-${i}`, imageURL: 'https://images.example.com/q.png' }),
          });
          seen(response.status, ms);
          await response.body?.cancel();
        }
      }

      const freezing = (async () => {
        await sleep(loadMs * 0.3);
        store.freeze();
        await sleep(loadMs * 0.5);
        store.thaw();
      })();
      await Promise.all([creator(0), creator(1), patcher(0), patcher(1), quitter(), quitter(), freezing]);

      t.diagnostic(`answers: ${JSON.stringify(Object.fromEntries(statuses))}; slowest ${slowest.toFixed(0)} ms`);
      // Answers: only successes and 503s, each within the deadline (plus a little for HTTP and the test's own work).
      assert.ok(!statuses.has(500), `statuses: ${JSON.stringify([...statuses])}`);
      assert.ok((statuses.get(503) ?? 0) > 0, 'the freeze was felt');
      assert.ok(slowest < deadlineMs + 1000, `slowest answer ${slowest.toFixed(0)} ms`);

      // No acknowledged change lost.
      for (const [id, tags] of acknowledgedTags) {
        const { response } = await call(`/products/${id}`);
        const stored = (await response.json()) as Product;
        for (const tag of tags) assert.ok(stored.tags?.includes(tag), `acknowledged tag ${tag} of ${id} is there`);
      }

      // No duplicate: one product per key, and it is the one the 201 named.
      const products: Product[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor ? `?limit=100&cursor=${encodeURIComponent(cursor)}` : '?limit=100';
        const { response } = await call(`/products${query}`);
        const page = (await response.json()) as { items: Product[]; next: string | null };
        products.push(...page.items);
        cursor = page.next;
      } while (cursor);
      for (const [key, id] of keys) {
        const made = products.filter((p) => p.name === `frozen-${key}`);
        assert.ok(made.length <= 1, `key ${key} made ${made.length} products`);
        if (id !== undefined) assert.equal(made[0]?.id, id);
      }

      // Every stored version has its event, within two drain intervals of the store coming back.
      const stored = products.filter((p) => p.name.startsWith('frozen'));
      const missing = () =>
        stored.flatMap((p) =>
          Array.from({ length: p.version }, (_, v) => v + 1)
            .filter((v) => !published.some((e) => e.id === p.id && e.version === v))
            .map((v) => `${p.id}@${v}`),
        );
      const waitUntil = performance.now() + 2 * drainIntervalSec * 1000 + 1500;
      while (missing().length > 0 && performance.now() < waitUntil) await sleep(50);
      assert.deepEqual(missing(), [], 'events stranded');
      assert.deepEqual(await running.service.repository.pendingSince(new Date(Date.now() + 1000), 10, undefined), []);
    },
  );
});
