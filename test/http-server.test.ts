import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { createTestKey, startTestIssuer, type TestIssuer, type TestKey } from '@product-service/bearer-testing';
import {
  awsLikeEnv,
  spawnTs,
  startStoreProcess,
  stop,
  watchLines,
  type Child,
  type StoreProcess,
} from './support/processes.js';
import { responseValidator } from '../smoke/openapi-validator.js';
import { openRaw, type RawConnection } from './support/raw-http.js';

/** The service as in AWS, in its own process: a JWKS server the test controls, a dynalite in a process of its own. */
async function startServer(
  jwks: TestIssuer,
  store: StoreProcess,
  env: Record<string, string> = {},
): Promise<{ child: Child; url: string }> {
  const child = spawnTs('src/server.ts', [], { ...awsLikeEnv(jwks, store.endpoint), ...env });
  const listening = await watchLines(child).first((line) => line.includes('product-service listening'));
  const { port } = JSON.parse(listening) as { port: number };
  return { child, url: `http://127.0.0.1:${port}` };
}

/** A request head, written as it goes on the wire. */
function head(method: string, path: string, headers: Record<string, string>): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: test'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** `bytes` bytes of a chunked body in 16 KiB chunks; `last` adds the final empty chunk. */
function chunked(bytes: number, last = true): string {
  const chunk = 'x'.repeat(16 * 1024);
  let body = '';
  for (let sent = 0; sent < bytes; sent += chunk.length) body += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
  return last ? `${body}0\r\n\r\n` : body;
}

/** How long the next request on `connection` takes to be answered, and its status. */
async function nextRequest(connection: RawConnection): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  await connection.write(head('GET', '/hello', {}));
  const { status } = await connection.response(5_000);
  return { status, ms: performance.now() - started };
}

describe('the HTTP server, under clients that misbehave', () => {
  let store: StoreProcess;
  let jwks: TestIssuer;
  let key: TestKey;
  let token: string;
  let server: { child: Child; url: string };

  before(async () => {
    store = await startStoreProcess();
    key = await createTestKey();
    jwks = await startTestIssuer({ userPoolId: 'local_HttpServer', keys: [key] });
    token = await jwks.sign(key);
    server = await startServer(jwks, store, { HTTP_HEADERS_TIMEOUT_MS: '500', HTTP_REQUEST_TIMEOUT_MS: '1500' });
  });
  after(async () => {
    await stop(server.child);
    await store.close();
    await jwks.close();
  });

  const post = (headers: Record<string, string>) =>
    head('POST', '/products', { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers });

  it('answers a chunked body over the limit with 413, then the next request on that connection at once', async (t) => {
    const connection = await openRaw(server.url);
    try {
      await connection.write(post({ 'Transfer-Encoding': 'chunked' }));
      // As a streaming client does: the answer arrives while the body is still being sent, and the sending goes on.
      for (let sent = 0; sent < 1_000_000; sent += 16 * 1024) {
        await connection.write(chunked(16 * 1024, false));
        if (sent === 32 * 1024) {
          const answer = await connection.response();
          assert.equal(answer.status, 413, answer.body);
          assert.notEqual(answer.headers['connection'], 'close');
        }
        await sleep(5);
      }
      await connection.write(chunked(0));
      const next = await nextRequest(connection);
      t.diagnostic(`next request on the connection after the 413: ${next.ms.toFixed(1)} ms`);
      assert.equal(next.status, 200);
      assert.ok(next.ms < 1_000, `the next request took ${Math.round(next.ms)} ms`);
    } finally {
      connection.destroy();
    }
  });

  for (const [what, headers, status] of [
    ['a body of the wrong type (415)', { 'Content-Type': 'text/plain' }, 415],
    ['a malformed Idempotency-Key, body unread (400)', { 'Idempotency-Key': '"a b"' }, 400],
    ['a Basic credential instead of a bearer token, body unread (400)', { Authorization: 'Basic eDp5' }, 400],
  ] as const) {
    it(`answers the next request on the connection after ${what}`, async () => {
      const connection = await openRaw(server.url);
      try {
        await connection.write(post({ 'Transfer-Encoding': 'chunked', ...headers }));
        await connection.write(chunked(200_000));
        assert.equal((await connection.response()).status, status);
        assert.equal((await nextRequest(connection)).status, 200);
      } finally {
        connection.destroy();
      }
    });
  }

  it('answers a corrupt gzip body with 400 and then the next request on the connection', async () => {
    const connection = await openRaw(server.url);
    try {
      // Under the 16 KiB limit once inflated, and incompressible, so that the flipped byte is inside the stream.
      const gzip = gzipSync(JSON.stringify({ name: randomBytes(9_000).toString('base64') }));
      gzip[4_000] = (gzip[4_000] ?? 0) ^ 0xff; // a bit flipped in the middle of the deflate stream
      const body = Buffer.concat([gzip, Buffer.alloc(300_000, 0x41)]);
      await connection.write(post({ 'Content-Encoding': 'gzip', 'Content-Length': String(body.length) }));
      await connection.write(body);
      assert.equal((await connection.response()).status, 400);
      assert.equal((await nextRequest(connection)).status, 200);
    } finally {
      connection.destroy();
    }
  });

  /** The one answer to `request` on a connection of its own, which the server then closes. */
  async function answerAlone(request: string | Buffer) {
    const connection = await openRaw(server.url);
    try {
      await connection.write(request);
      const answer = await connection.response(5_000);
      await connection.closed();
      return { ...answer, json: JSON.parse(answer.body) as { error: string; error_description: string } };
    } finally {
      connection.destroy();
    }
  }

  // No 5xx for anything a client sends: @koa/router answers a method it does not know with 501 unless told otherwise.
  it('answers a method no route serves with 405 and Allow on a path that exists, 404 elsewhere, never 501', async () => {
    const auth = { Authorization: `Bearer ${token}` };
    for (const method of ['PROPFIND', 'PUT', 'MKCOL']) {
      const response = await fetch(`${server.url}/products`, { method, headers: auth });
      assert.equal(response.status, 405, method);
      assert.deepEqual(response.headers.get('allow')?.split(', ').sort(), ['GET', 'HEAD', 'POST']);
      assert.equal(((await response.json()) as { error: string }).error, 'method_not_allowed');
    }
    const nowhere = await fetch(`${server.url}/nowhere`, { method: 'PROPFIND', headers: auth });
    assert.equal(nowhere.status, 404);
    assert.equal(((await nowhere.json()) as { error: string }).error, 'not_found');
    assert.equal((await fetch(`${server.url}/products`, { method: 'PROPFIND' })).status, 401, 'closed by default');
  });

  // Node's parser answers these before any route runs; here they come in the house shape, and 417 and 431 are listed
  // on every operation of the document (RFC 9110 §10.1.1, RFC 6585 §5).
  it('answers what Node refuses itself in the house shape: 431, 417, 400, and closes the connection', async () => {
    const check = responseValidator((await (await fetch(`${server.url}/openapi.json`)).json()) as object);
    const tooLarge = await answerAlone(head('GET', '/products', { 'X-Padding': 'x'.repeat(20 * 1024) }));
    assert.equal(tooLarge.status, 431);
    assert.equal(tooLarge.json.error, 'request_header_fields_too_large');
    assert.equal(check('GET', '/products', 431, tooLarge.json), undefined);
    // On a keep-alive connection after an answer has ended, the next bad request is answered too.
    const connection = await openRaw(server.url);
    try {
      assert.equal((await nextRequest(connection)).status, 200);
      await connection.write(head('GET', '/products', { 'X-Padding': 'x'.repeat(20 * 1024) }));
      assert.equal((await connection.response(5_000)).status, 431);
    } finally {
      connection.destroy();
    }
    const expectation = await answerAlone(head('GET', '/products', { Expect: 'the-moon' }));
    assert.equal(expectation.status, 417);
    assert.equal(expectation.json.error, 'expectation_failed');
    assert.equal(check('GET', '/products', 417, expectation.json), undefined);
    for (const garbage of [
      'BREW /pot HTTP/1.1\r\nHost: test\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n',
    ]) {
      const bad = await answerAlone(garbage);
      assert.equal(bad.status, 400, garbage);
      assert.equal(bad.json.error, 'bad_request');
    }
  });

  // README: Node closes a CONNECT itself when nothing listens for it (node:http's 'connect' event), before any route.
  it('closes a CONNECT request without an answer, as the README says', async () => {
    const connection = await openRaw(server.url);
    try {
      await connection.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
      await assert.rejects(connection.response(5_000), /closed/);
      await connection.closed();
    } finally {
      connection.destroy();
    }
  });

  // The service trusts the issuer it is given; in local mode that is one with well-known passwords, so by default
  // nothing but this machine reaches either. The control: with HOST=0.0.0.0 the same address answers.
  it('listens on loopback only unless HOST says otherwise', async (t) => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address?.family === 'IPv4' && !address.internal)?.address;
    if (!external) return t.skip('this machine has no address but loopback');
    const port = new URL(server.url).port;
    await assert.rejects(fetch(`http://${external}:${port}/hello`), (error: Error) => {
      return (error.cause as NodeJS.ErrnoException | undefined)?.code === 'ECONNREFUSED';
    });
    const open = await startServer(jwks, store, { HOST: '0.0.0.0' });
    try {
      const response = await fetch(`http://${external}:${new URL(open.url).port}/hello`);
      assert.equal(response.status, 200);
    } finally {
      await stop(open.child);
    }
  });

  it('cuts off a client that sends its headers too slowly (408 after HTTP_HEADERS_TIMEOUT_MS)', async () => {
    const connection = await openRaw(server.url);
    const started = performance.now();
    await connection.write('GET /hello HTTP/1.1\r\nHost: test\r\n');
    const answer = await connection.response(5_000);
    assert.equal(answer.status, 408);
    assert.equal((JSON.parse(answer.body) as { error: string }).error, 'request_timeout');
    await connection.closed();
    const ms = performance.now() - started;
    assert.ok(ms >= 400 && ms < 2_500, `closed after ${Math.round(ms)} ms for a 500 ms headers timeout`);
  });

  it('cuts off a body that arrives too slowly (408 after HTTP_REQUEST_TIMEOUT_MS), even with a valid token', async () => {
    const connection = await openRaw(server.url);
    const started = performance.now();
    await connection.write(post({ 'Content-Length': '100' }));
    await connection.write('{"name":');
    const answer = await connection.response(5_000);
    assert.equal(answer.status, 408);
    await connection.closed();
    const ms = performance.now() - started;
    assert.ok(ms >= 1_400 && ms < 3_500, `closed after ${Math.round(ms)} ms for a 1.5 s request timeout`);
  });
});

describe('the HTTP server, while the issuer hangs', () => {
  let store: StoreProcess;
  let jwks: TestIssuer;

  before(async () => {
    store = await startStoreProcess();
    jwks = await startTestIssuer({ userPoolId: 'local_HangingIssuer', keys: [] });
  });
  after(async () => {
    await store.close();
    await jwks.close();
  });

  it('answers tokens whose key it holds at once; past stale-if-error, cached and new tokens get the same 503', async (t) => {
    const key = await createTestKey();
    jwks.publish([key]);
    const server = await startServer(jwks, store, {
      JWKS_MAX_AGE_SECONDS: '1',
      JWKS_STALE_IF_ERROR_SECONDS: '4',
      JWKS_TIMEOUT_MS: '1500',
    });
    try {
      const cached = await jwks.sign(key);
      const call = async (token: string) => {
        const started = performance.now();
        const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
        await response.arrayBuffer();
        return {
          status: response.status,
          ms: performance.now() - started,
          retryAfter: response.headers.get('retry-after'),
        };
      };
      assert.equal((await call(cached)).status, 200);
      await jwks.setMode('hang'); // accepts connections, never answers
      const hangStarted = performance.now();
      let slowest = 0;
      let requests = 0;
      const statuses = new Set<number>();
      while (performance.now() - hangStarted < 3_000) {
        for (const token of [cached, await jwks.sign(key)]) {
          const { status, ms } = await call(token);
          requests += 1;
          statuses.add(status);
          slowest = Math.max(slowest, ms);
        }
        await sleep(50);
      }
      t.diagnostic(`${requests} requests while the issuer hung, the slowest ${slowest.toFixed(1)} ms`);
      assert.deepEqual([...statuses], [200], 'a held key answers, cached token or new');
      assert.ok(slowest < 500, `the slowest request took ${Math.round(slowest)} ms; the fetch timeout is 1.5 s`);

      // The last good set is older than 1 s of maximum age plus 4 s of stale-if-error: nothing is trusted now.
      await sleep(Math.max(0, 5_500 - (performance.now() - hangStarted)));
      const [old, fresh] = [await call(cached), await call(await jwks.sign(key))];
      assert.equal(old.status, 503);
      assert.equal(fresh.status, 503);
      assert.match(old.retryAfter ?? '', /^\d+$/);
      assert.equal((await fetch(`${server.url}/ready`)).status, 503, '/ready says the same');
    } finally {
      await jwks.setMode('ok');
      await stop(server.child);
    }
  });
});
