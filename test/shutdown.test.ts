import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchToken } from './support/service.js';

// What ECS does on a deployment or scale-in: SIGTERM to the real process, in the middle of a request.
describe('graceful shutdown', () => {
  it('on SIGTERM stops accepting, finishes the request in flight, closes everything and exits 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env: { ...process.env, PORT: '0', LOCAL_ISSUER_PORT: '0', LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
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
