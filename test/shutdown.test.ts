import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { exitOf, spawnTs } from './support/processes.js';
import { fetchToken } from './support/service.js';

// What ECS does on a deployment or scale-in: SIGTERM to the real process, in the middle of a request.
describe('graceful shutdown', () => {
  it('on SIGTERM stops accepting, finishes the request in flight, closes everything and exits 0', async () => {
    const child = spawnTs('src/local/main.ts', [], { PORT: '0', LOCAL_ISSUER_PORT: '0', LOG_FORMAT: 'json' });
    const exited = exitOf(child);
    try {
      let base = '';
      let tokenUrl = '';
      for await (const line of createInterface({ input: child.stdout })) {
        base ||= /running locally on (http:\/\/localhost:\d+)/.exec(line)?.[1] ?? '';
        tokenUrl ||= /(http:\/\/localhost:\d+\/oauth2\/token)/.exec(line)?.[1] ?? '';
        if (base && tokenUrl) break;
      }
      const token = await fetchToken(tokenUrl, { id: 'local-client', secret: 'local-client-secret' });

      // A slow client: headers and half the body now, the rest after SIGTERM.
      const body = JSON.stringify({ name: 'Trek Slow', imageURL: 'https://images.example.com/slow.png' });
      const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request(
          `${base}/products`,
          {
            method: 'POST',
            headers: {
              authorization: `Bearer ${token}`,
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
            },
          },
          (res) => {
            let text = '';
            res.on('data', (chunk: Buffer) => (text += chunk.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          },
        );
        req.on('error', reject);
        req.write(body.slice(0, 20));
        setTimeout(() => req.end(body.slice(20)), 1_000);
      });
      await sleep(300);
      child.kill('SIGTERM');
      await sleep(200);
      await assert.rejects(fetch(`${base}/hello`), 'a new connection after SIGTERM is refused');

      const { status, text } = await answer;
      assert.equal(status, 201, text);
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('graceful shutdown under keep-alive load', () => {
  it('drops no request: in-flight answers say Connection: close, idle connections are closed, nothing is reset', async (t) => {
    const child = spawnTs('src/local/main.ts', [], { PORT: '0', LOCAL_ISSUER_PORT: '0', LOG_FORMAT: 'json' });
    const exited = exitOf(child);
    const agent = new Agent({ keepAlive: true, maxSockets: 10 });
    try {
      let port = 0;
      for await (const line of createInterface({ input: child.stdout })) {
        if (line.includes('product-service listening')) {
          port = (JSON.parse(line) as { port: number }).port;
          break;
        }
      }
      const counts = { ok: 0, close: 0 };
      const failures: string[] = [];
      // SIGTERM goes once the load is on: this many answers in, with all ten connections busy.
      const underLoad = 500;
      let loaded: () => void = () => undefined;
      const onLoad = new Promise<void>((resolve) => (loaded = resolve));
      const get = () =>
        new Promise<'ok' | 'gone'>((resolve) => {
          const req = request({ port, host: '127.0.0.1', path: '/hello', agent }, (res) => {
            res.resume();
            res.on('end', () => {
              counts.ok += 1;
              if (counts.ok === underLoad) loaded();
              if (res.headers.connection === 'close') counts.close += 1;
              resolve('ok');
            });
          });
          req.on('error', (error: NodeJS.ErrnoException) => {
            // A new connection refused: the listener is closed, nothing was sent, the client goes elsewhere. A reset
            // on a fresh socket is one the kernel accepted after the listener closed (the one exception allowed); on
            // a reused keep-alive socket it is a request the server dropped.
            if (error.code === 'ECONNREFUSED') return resolve('gone');
            if (req.reusedSocket) failures.push(`${error.code ?? error.message} on a reused connection`);
            resolve('gone');
          });
          req.end();
        });
      const workers = Array.from({ length: 10 }, async () => {
        while ((await get()) === 'ok');
      });
      await onLoad;
      const stopped = performance.now();
      child.kill('SIGTERM');
      await Promise.all(workers);
      assert.equal(await exited, 0);
      const exitMs = performance.now() - stopped;
      t.diagnostic(
        `${counts.ok} answered, ${counts.close} with Connection: close, ${failures.length} reset; exit after ${Math.round(exitMs)} ms`,
      );
      assert.deepEqual(failures, [], 'no request dropped');
      assert.ok(counts.close > 0, 'the answers in flight at SIGTERM said Connection: close');
      assert.ok(exitMs < 5_000, `exited ${Math.round(exitMs)} ms after SIGTERM`);
    } finally {
      agent.destroy();
      child.kill('SIGKILL');
    }
  });
});
