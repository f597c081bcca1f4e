import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { exitOf, spawnTs, textOf } from './support/processes.js';
import { bearer, fetchToken } from './support/service.js';

/** A port this test holds, as a second copy of the service or any other program would. */
async function occupiedPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

/** Runs `src/server.ts` to its exit; what it wrote to stderr and its exit code. */
function runToExit(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawnTs('src/local/main.ts', [], { LOG_LEVEL: 'silent', ...env }, { stderr: true });
  const stderr = textOf(child.stderr);
  return exitOf(child).then((code) => ({ code, stderr: stderr() }));
}

/** The service's own lines only, and no stack frame anywhere. */
function assertOneLine(stderr: string, expected: string): void {
  assert.deepEqual(
    stderr.split('\n').filter((line) => line.startsWith('product-service:')),
    [expected],
  );
  assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
}

describe('start-up', () => {
  // oidc-provider and the AWS SDK each print a notice on a Node release they no longer support (Node 20 drew both).
  it('runs on Node 24 LTS and prints nothing on stderr: start, a token, a write, a read, SIGTERM', async () => {
    assert.ok(Number(process.versions.node.split('.')[0]) >= 24, `npm test runs on Node 24, not ${process.version}`);
    const env = { PORT: '0', LOCAL_ISSUER_PORT: '0', LOG_FORMAT: 'json' };
    const child = spawnTs('src/local/main.ts', [], env, { stderr: true });
    const stderr = textOf(child.stderr);
    const exited = exitOf(child);
    try {
      let port = 0;
      let tokenUrl = '';
      for await (const line of createInterface({ input: child.stdout })) {
        if (line.includes('product-service listening')) port = (JSON.parse(line) as { port: number }).port;
        tokenUrl = /--token-url (\S+)/.exec(line)?.[1] ?? tokenUrl;
        if (port && tokenUrl) break;
      }
      const base = `http://127.0.0.1:${port}`;
      const token = await fetchToken(tokenUrl, { id: 'local-client', secret: 'local-client-secret' });
      const created = await fetch(`${base}/products`, {
        method: 'POST',
        headers: { ...bearer(token), 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Quiet start', imageURL: 'https://images.example.com/quiet.png' }),
      });
      assert.equal(created.status, 201);
      assert.equal((await fetch(`${base}/products`, { headers: bearer(token) })).status, 200);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.equal(stderr(), '');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('says in one line which setting to change when PORT is in use, and exits 1 without a stack trace', async () => {
    const held = await occupiedPort();
    try {
      const { code, stderr } = await runToExit({ PORT: String(held.port), LOCAL_ISSUER_PORT: '0' });
      assert.equal(code, 1);
      assertOneLine(stderr, `product-service: port ${held.port} is in use: set PORT to a free port`);
    } finally {
      held.server.close();
    }
  });

  it('names LOCAL_ISSUER_PORT when the embedded issuer cannot listen', async () => {
    const held = await occupiedPort();
    try {
      const { code, stderr } = await runToExit({ PORT: '0', LOCAL_ISSUER_PORT: String(held.port) });
      assert.equal(code, 1);
      assertOneLine(stderr, `product-service: port ${held.port} is in use: set LOCAL_ISSUER_PORT to a free port`);
    } finally {
      held.server.close();
    }
  });

  it('passes a SIGTERM sent to `npm start` alone on to the service, which stops', async () => {
    const npm = spawn('npm', ['start', '--silent'], {
      env: { ...process.env, PORT: '0', LOCAL_ISSUER_PORT: '0', LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let pid = 0;
    try {
      for await (const line of createInterface({ input: npm.stdout })) {
        if (line.includes('product-service listening')) {
          pid = (JSON.parse(line) as { pid: number }).pid;
          break;
        }
      }
      assert.ok(pid > 0 && pid !== npm.pid, 'the service runs in a process of its own under npm');
      const npmExited = new Promise((resolve) => npm.once('exit', resolve));
      npm.kill('SIGTERM'); // to npm only, as some supervisors do: not to the process group
      await npmExited;
      const alive = () => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      for (let waited = 0; alive() && waited < 5_000; waited += 50) await sleep(50);
      assert.equal(alive(), false, 'the service process is gone');
    } finally {
      npm.kill('SIGKILL');
      if (pid) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });
});
