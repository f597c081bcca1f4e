import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChangeEvent } from '../src/products/repository.js';
import { createTestKey, startTestIssuer, type TestIssuer } from '@product-service/bearer-testing';
import {
  awsLikeEnv,
  spawnTs,
  startStoreProcess,
  stop,
  watchLines,
  type Child,
  type StoreProcess,
} from './support/processes.js';

interface Product {
  id: string;
  version: number;
  tags?: string[];
}

interface Published {
  readonly event: ChangeEvent;
  readonly time: number;
}

// ECS runs several tasks against one table. Three service processes, configured as in AWS (an external issuer, a
// DynamoDB endpoint), share one dynalite: their writes race each other for real, across processes, where the
// in-process turn-taking cannot help. Events are read from each task's log (the publisher without an SNS topic).
describe('three tasks sharing one store', () => {
  let store: StoreProcess;
  let jwks: TestIssuer;
  let token: string;
  const tasks: { child: Child; url: string }[] = [];
  const published: Published[] = [];

  before(async () => {
    store = await startStoreProcess();
    const key = await createTestKey();
    jwks = await startTestIssuer({ userPoolId: 'local_ThreeTasks', keys: [key] });
    token = await jwks.sign(key);
    await Promise.all(
      [0, 1, 2].map(async () => {
        const child = spawnTs('src/server.ts', [], {
          ...awsLikeEnv(jwks, store.endpoint),
          LOG_LEVEL: 'info',
          OUTBOX_DRAIN_INTERVAL_SECONDS: '1',
        });
        const lines = watchLines(child, (line) => {
          const entry = JSON.parse(line) as { msg?: string; event?: ChangeEvent; time: number };
          if (entry.msg === 'product changed' && entry.event) published.push({ event: entry.event, time: entry.time });
        });
        const listening = await lines.first((line) => line.includes('product-service listening'));
        const { port } = JSON.parse(listening) as { port: number };
        tasks.push({ child, url: `http://127.0.0.1:${port}` });
      }),
    );
  });
  after(async () => {
    await Promise.all(tasks.map(({ child }) => stop(child)));
    await jwks.close();
    await store.close();
  });

  const call = (task: number, path: string, init: RequestInit = {}) =>
    fetch(`${tasks[task % tasks.length]?.url ?? ''}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string> | undefined) },
    });
  const patch = (task: number, id: string, operations: unknown, headers: Record<string, string> = {}) =>
    call(task, `/products/${id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json-patch+json', ...headers },
      body: JSON.stringify(operations),
    });

  it('keeps every guarantee: no lost update, one winner per If-Match, every event in version order', async () => {
    const created = await call(0, '/products', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Trek Checkpoint', imageURL: 'https://images.example.com/cp.png', tags: [] }),
    });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as Product;

    // 30 patches without If-Match, spread over the three tasks: all succeed, none is lost.
    const tags = Array.from({ length: 30 }, (_, i) => `t${i}`);
    const statuses = await Promise.all(
      tags.map(async (tag, i) => (await patch(i, id, [{ op: 'add', path: '/tags/-', value: tag }])).status),
    );
    assert.deepEqual(
      statuses,
      tags.map(() => 200),
    );
    const afterRace = (await (await call(1, `/products/${id}`)).json()) as Product;
    assert.equal(afterRace.version, 31);
    assert.deepEqual([...(afterRace.tags ?? [])].sort(), [...tags].sort());

    // 15 patches with the same If-Match over the three tasks: exactly one wins.
    const guarded = await Promise.all(
      Array.from(
        { length: 15 },
        async (_, i) =>
          (await patch(i, id, [{ op: 'replace', path: '/name', value: `writer ${i}` }], { 'if-match': '"31"' })).status,
      ),
    );
    assert.equal(guarded.filter((s) => s === 200).length, 1, guarded.join());
    assert.equal(guarded.filter((s) => s === 412).length, 14, guarded.join());

    // Every version's event is published at least once; first publications come in version order.
    const versions = Array.from({ length: 32 }, (_, i) => i + 1);
    const firstOf = (version: number) =>
      published.find(({ event }) => event.id === id && event.version === version)?.time;
    const until = performance.now() + 5_000;
    while (versions.some((v) => firstOf(v) === undefined) && performance.now() < until) await sleep(50);
    assert.deepEqual(
      versions.filter((v) => firstOf(v) === undefined),
      [],
      'versions without an event',
    );
    const times = versions.map((v) => firstOf(v) ?? 0);
    for (let v = 1; v < times.length; v += 1) {
      assert.ok((times[v] ?? 0) >= (times[v - 1] ?? 0), `version ${v + 1} was published before version ${v}`);
    }
  });
});
