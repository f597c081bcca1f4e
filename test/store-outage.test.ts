import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createTestKey, startTestIssuer } from '@product-service/bearer-testing';
import { spawnTs, stop, watchLines } from './support/processes.js';
import { bearer, fetchToken, freePort, localTestConfig, startService, type RunningService } from './support/service.js';

async function assertUnavailable(response: Response): Promise<void> {
  assert.equal(response.status, 503);
  assert.match(response.headers.get('retry-after') ?? '', /^\d+$/);
  const body = (await response.json()) as Record<string, unknown>;
  assert.equal(body['error'], 'temporarily_unavailable');
  assert.doesNotMatch(JSON.stringify(body), /ECONN|at .*\.js|127\.0\.0\.1/, 'no internals in the answer');
}

// A store that cannot answer is the service's problem, not the client's: 503 with Retry-After (RFC 9110 §15.6.4),
// within a bounded time, never a 500 with details and never a request that hangs.
describe('when DynamoDB cannot answer', () => {
  const timeoutMs = 200;

  async function serviceWithStoreAt(
    endpoint: string,
    env: Record<string, string> = {},
  ): Promise<{ running: RunningService; token: string }> {
    const running = await startService(
      localTestConfig({ DYNAMODB_ENDPOINT: endpoint, DYNAMODB_TIMEOUT_MS: String(timeoutMs), ...env }),
    );
    const token = await fetchToken(running.service.localIssuer?.tokenUrl ?? '', {
      id: 'local-client',
      secret: 'local-client-secret',
    });
    return { running, token };
  }

  describe('a store that refuses connections', () => {
    let running: RunningService;
    let token: string;
    before(async () => {
      ({ running, token } = await serviceWithStoreAt(`http://127.0.0.1:${await freePort()}`));
    });
    after(() => running.close());

    it('answers reads and writes with 503 and Retry-After', async () => {
      await assertUnavailable(
        await fetch(`${running.url}/products/AAAAAAAAAAAAAAAAAAAAAA`, { headers: bearer(token) }),
      );
      await assertUnavailable(
        await fetch(`${running.url}/products`, {
          method: 'POST',
          headers: { ...bearer(token), 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'Trek Madone', imageURL: 'https://images.example.com/madone.png' }),
        }),
      );
    });

    it('keeps the health check open: it has no dependencies', async () => {
      assert.equal((await fetch(`${running.url}/hello`)).status, 200);
    });
  });

  describe('a store that accepts connections and never answers', () => {
    let silent: Server;
    const sockets = new Set<Socket>();
    // Attempts per DynamoDB operation (X-Amz-Target), read from each request's head; the drainer's own calls count
    // under their own operation.
    const attempts = new Map<string, number>();
    let endpoint: string;
    before(async () => {
      silent = createServer((socket) => {
        sockets.add(socket);
        socket.once('data', (head) => {
          const target = /x-amz-target: *DynamoDB_\d+\.(\w+)/i.exec(head.toString('latin1'))?.[1] ?? 'unknown';
          attempts.set(target, (attempts.get(target) ?? 0) + 1);
        });
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    });
    after(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });

    // Bounded, so that a regression (a request that hangs) fails the test instead of hanging the run.
    it(
      'answers 503 after exactly DYNAMODB_MAX_ATTEMPTS attempts of DYNAMODB_TIMEOUT_MS each, instead of hanging',
      { timeout: 15_000 },
      async () => {
        const { running, token } = await serviceWithStoreAt(endpoint, { DYNAMODB_MAX_ATTEMPTS: '2' });
        try {
          attempts.clear();
          const started = performance.now();
          await assertUnavailable(
            await fetch(`${running.url}/products/AAAAAAAAAAAAAAAAAAAAAA`, { headers: bearer(token) }),
          );
          const elapsed = performance.now() - started;
          assert.equal(attempts.get('GetItem'), 2, 'as many attempts as configured');
          assert.ok(elapsed >= 2 * timeoutMs, `waited ${elapsed.toFixed(0)} ms: each attempt's timeout was honoured`);
          assert.ok(elapsed < 2 * timeoutMs + 2_000, `answered after ${elapsed.toFixed(0)} ms`);
        } finally {
          await running.close();
        }
      },
    );

    it('answers 503 at STORE_DEADLINE_MS when the attempts would take longer', { timeout: 15_000 }, async () => {
      const { running, token } = await serviceWithStoreAt(endpoint, {
        DYNAMODB_TIMEOUT_MS: '5000',
        STORE_DEADLINE_MS: '400',
      });
      try {
        const started = performance.now();
        await assertUnavailable(
          await fetch(`${running.url}/products`, {
            method: 'POST',
            headers: { ...bearer(token), 'content-type': 'application/json' },
            body: JSON.stringify({ name: 'Trek Madone', imageURL: 'https://images.example.com/madone.png' }),
          }),
        );
        const elapsed = performance.now() - started;
        assert.ok(elapsed >= 400 && elapsed < 1_500, `answered after ${elapsed.toFixed(0)} ms`);
      } finally {
        await running.close();
      }
    });
  });
});

// In AWS mode the SDK finds credentials itself (the task role). When it finds none, the store cannot be asked now:
// the same bounded 503, and the log says why in a line, without the credential provider's stack trace.
describe('when no AWS credentials can be had', () => {
  it('answers 503 with Retry-After, and logs the reason without a stack trace', async () => {
    const key = await createTestKey();
    const jwks = await startTestIssuer({ userPoolId: 'local_NoCredentials', keys: [key] });
    const env: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')),
    );
    const child = spawnTs(
      'src/server.ts',
      [],
      {
        ...env,
        HOME: mkdtempSync(join(tmpdir(), 'no-credentials-')), // no ~/.aws to find
        AWS_EC2_METADATA_DISABLED: 'true', // nor an instance role
        AWS_REGION: 'us-east-1',
        PORT: '0',
        LOG_FORMAT: 'json',
        OIDC_ISSUER: jwks.issuer,
        JWKS_URI: jwks.jwksUri,
        DYNAMODB_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
      },
      { onlyEnv: true },
    );
    const log: Record<string, unknown>[] = [];
    const lines = watchLines(child, (line) => {
      if (line.startsWith('{')) log.push(JSON.parse(line) as Record<string, unknown>);
    });
    try {
      const { port } = JSON.parse(await lines.first((line) => line.includes('product-service listening'))) as {
        port: number;
      };
      const logged = lines.first((line) => line.includes('dependency unavailable'));
      await assertUnavailable(
        await fetch(`http://127.0.0.1:${port}/products`, { headers: bearer(await jwks.sign(key)) }),
      );
      await logged;
      const refused = log.find((entry) => entry['msg'] === 'dependency unavailable');
      assert.equal(
        (refused?.['failure'] as { cause?: string } | undefined)?.cause?.split(':')[0],
        'CredentialsProviderError',
      );
      for (const entry of log) assert.doesNotMatch(JSON.stringify(entry), /"stack"|\\n\s+at /, String(entry['msg']));
    } finally {
      await stop(child);
      await jwks.close();
    }
  });
});
