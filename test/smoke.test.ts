import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { productScopes } from '../src/app.js';
import { startLocalIssuer, type LocalIssuer } from '../src/local/issuer.js';
import { buildDist } from './support/dist.js';
import {
  awsLikeEnv,
  spawnTs,
  startStoreProcess,
  stop,
  watchLines,
  type Child,
  type StoreProcess,
} from './support/processes.js';

// The checks of `npm run smoke`, by name: what a run against a good deployment prints as `ok`.
const tokens = [
  'a token for products/read products/write (client_credentials)',
  'a token for products/read alone (client_credentials)',
];
const hello = 'GET /hello is 200';
const ready = 'GET /ready is 200 and ready (the issuer keys are held)';
const openApi = 'GET /openapi.json is 200 and an OpenAPI document with /products';
const noToken = 'GET /products without a token is 401 with a Bearer challenge';
const garbageToken = 'GET /products with a garbage token is 401 invalid_token';
const unknownWithout = 'GET /smoke/no-such-path (no such path) without a token is 401';
const unknownWith = 'GET /smoke/no-such-path (no such path) with a token is 404';
const readOnlyPost = 'POST /products with a products/read token is 403 insufficient_scope';
// The store reads: what a deployment that has lost its store (IAM, table, network) fails in read-only mode.
const listing = 'GET /products?limit=1 with a products/read token is 200 and valid against /openapi.json';
const unknownId = 'GET /products/{an id no product can have} with a products/read token is 404 not_found';
const readChecks = [
  hello,
  ready,
  openApi,
  noToken,
  garbageToken,
  unknownWithout,
  unknownWith,
  readOnlyPost,
  listing,
  unknownId,
];
const writeChecks = [
  'POST /products is 201 with Location and ETag',
  'GET /products/{id} is 200 with the product',
  'PATCH /products/{id} (JSON Patch, If-Match) is 200 with version 2',
  'GET /products/{id}/snapshots is 200 with versions 2 and 1',
  'DELETE /products/{id} is 204',
  'GET /products/{id} after DELETE is 410',
];
const everyCheck = [...tokens, ...readChecks, ...writeChecks];

interface SmokeRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ok: string[];
  readonly failed: Map<string, string>;
}

/** `npm run smoke`, as the pipeline runs it: configured by `env` alone (no SMOKE_* leaks in from this process). */
function smoke(env: Record<string, string>): Promise<SmokeRun> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SMOKE_')));
  const child = spawn('npm', ['run', '--silent', 'smoke'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...inherited, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => {
    child.once('close', (code) => {
      const lines = stdout.split('\n').filter(Boolean);
      const ok = lines.filter((line) => line.startsWith('ok   ')).map((line) => line.slice(5));
      // No check's name has ": " in it, so the first one ends the name.
      const failed = new Map(
        lines.flatMap((line) => {
          const match = /^FAIL (.+?): (.*)$/.exec(line);
          return match ? [[match[1] ?? '', match[2] ?? ''] as const] : [];
        }),
      );
      resolve({ code, stdout, stderr, ok, failed });
    });
  });
}

/** The service as `npm start` runs it (local mode), in a process of its own: its URL and its issuer's token URL. */
async function startLocalMode(): Promise<{ child: Child; url: string; tokenUrl: string }> {
  const child = spawnTs('src/local/main.ts', [], { PORT: '0', LOCAL_ISSUER_PORT: '0', LOG_FORMAT: 'json' });
  const lines = watchLines(child);
  // Both watched before either is awaited: the banner may arrive in the same chunk as the log line.
  const [listening, banner] = await Promise.all([
    lines.first((line) => line.includes('product-service listening')),
    lines.first((line) => line.includes('--token-url')),
  ]);
  const { port } = JSON.parse(listening) as { port: number };
  const tokenUrl = /--token-url (\S+)/.exec(banner)?.[1];
  assert.ok(tokenUrl, banner);
  return { child, url: `http://127.0.0.1:${port}`, tokenUrl };
}

/** A server that answers every request alike, as a misrouted load balancer or a stub left deployed would. */
async function startFake(answer: (res: ServerResponse) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => answer(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Replacement {
  readonly status: number;
  readonly body: unknown;
}

/**
 * A real HTTP proxy in front of `upstream` that passes every answer through, except those `replace` answers for
 * instead (given the request and the service's status): a deployment broken behind a healthy-looking front.
 */
async function startProxy(
  upstream: string,
  replace: (method: string, path: string, status: number) => Replacement | undefined,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const forwarded = request(new URL(path, upstream), { method, headers: req.headers, agent: false }, (answer) => {
      const status = answer.statusCode ?? 502;
      const replacement = replace(method, path, status);
      if (replacement === undefined) {
        res.writeHead(status, answer.headers);
        answer.pipe(res);
        return;
      }
      answer.resume();
      const headers = { 'content-type': 'application/json', 'x-request-id': randomUUID() };
      res
        .writeHead(replacement.status, replacement.status === 503 ? { ...headers, 'retry-after': '1' } : headers)
        .end(JSON.stringify(replacement.body));
    });
    forwarded.once('error', () => res.writeHead(502).end());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const productsRead = (method: string, path: string) => method === 'GET' && /^\/products(?:[/?]|$)/.test(path);

/**
 * Issue 28's picture of a deployment that has lost its store: each successful (2xx) `GET /products…` becomes the
 * service's own answer when its store is down, `503 temporarily_unavailable` in the house shape.
 */
const storeDown = (method: string, path: string, status: number): Replacement | undefined =>
  productsRead(method, path) && status >= 200 && status < 300
    ? {
        status: 503,
        body: {
          error: 'temporarily_unavailable',
          error_description: 'the product store is not available now; try again',
        },
      }
    : undefined;

const localClient = 'local-client:local-client-secret';

describe('npm run smoke against local mode (npm start)', () => {
  let local: Awaited<ReturnType<typeof startLocalMode>>;
  before(async () => {
    local = await startLocalMode();
  });
  after(() => stop(local.child));

  it('passes every check, the write round trip included, exits 0, and prints neither the secret nor a token', async () => {
    const run = await smoke({
      SMOKE_BASE_URL: local.url,
      SMOKE_TOKEN_URL: local.tokenUrl,
      SMOKE_CLIENT: localClient,
      SMOKE_WRITE: '1',
    });
    assert.deepEqual([...run.failed], []);
    assert.deepEqual(run.ok, everyCheck);
    assert.match(run.stdout, /^smoke: 18 ok, 0 failed against http:\/\/127\.0\.0\.1:\d+$/m);
    assert.equal(run.code, 0);
    const printed = run.stdout + run.stderr;
    assert.equal(printed.includes('local-client-secret'), false);
    assert.doesNotMatch(printed, /eyJ[\w-]*\.eyJ/, 'a JWT');
  });

  it('is read-only without SMOKE_WRITE=1, the production default, and says the write checks were skipped', async () => {
    const run = await smoke({ SMOKE_BASE_URL: local.url, SMOKE_TOKEN_URL: local.tokenUrl, SMOKE_CLIENT: localClient });
    assert.deepEqual(run.ok, [...tokens, ...readChecks]);
    assert.match(run.stdout, /^skip the write round trip: SMOKE_WRITE is not 1/m);
    assert.match(run.stdout, /^smoke: 12 ok, 0 failed against \S+ \(write round trip skipped\)$/m);
    assert.equal(run.code, 0);
  });

  it('fails read-only, naming the store read, behind a proxy that turns each successful GET /products… into 503; passes without it', async () => {
    const env = { SMOKE_TOKEN_URL: local.tokenUrl, SMOKE_CLIENT: localClient };
    const direct = await smoke({ ...env, SMOKE_BASE_URL: local.url });
    assert.deepEqual([...direct.failed], []);
    assert.equal(direct.code, 0);

    const proxy = await startProxy(local.url, storeDown);
    try {
      const run = await smoke({ ...env, SMOKE_BASE_URL: proxy.url });
      assert.deepEqual([...run.failed], [[listing, 'answered 503 temporarily_unavailable, not 200']]);
      assert.deepEqual(
        run.ok,
        [...tokens, ...readChecks].filter((name) => name !== listing),
      );
      assert.match(run.stdout, /^smoke: 11 ok, 1 failed against \S+ \(write round trip skipped\)$/m);
      assert.equal(run.code, 1);
    } finally {
      await proxy.close();
    }
  });

  it('fails read-only behind a proxy that answers the listing with a page its /openapi.json does not allow', async () => {
    // A page whose item lacks every required field: what a deployment whose store holds another shape would serve.
    const proxy = await startProxy(local.url, (method, path, status) =>
      productsRead(method, path) && path.startsWith('/products?') && status === 200
        ? { status: 200, body: { items: [{ name: 'no id, version or dates' }] } }
        : undefined,
    );
    try {
      const run = await smoke({
        SMOKE_BASE_URL: proxy.url,
        SMOKE_TOKEN_URL: local.tokenUrl,
        SMOKE_CLIENT: localClient,
      });
      assert.deepEqual([...run.failed.keys()], [listing]);
      assert.match(
        run.failed.get(listing) ?? '',
        /^the page breaks the document: GET \/products 200: .*required property/,
      );
      assert.equal(run.code, 1);
    } finally {
      await proxy.close();
    }
  });

  /**
   * The negative controls: the suite against a server that answers every request with `answer`. The token URL is the
   * real local issuer, so tokens are had and every failure is the service's. A suite that passed against these would
   * be a rubber stamp.
   */
  async function smokeAgainst(answer: (res: ServerResponse) => void, env: Record<string, string>) {
    const fake = await startFake(answer);
    try {
      return await smoke({
        SMOKE_BASE_URL: fake.url,
        SMOKE_TOKEN_URL: local.tokenUrl,
        SMOKE_CLIENT: localClient,
        ...env,
      });
    } finally {
      await fake.close();
    }
  }

  it('fails against a server that answers 200 {} to everything: the refusal checks catch it', async () => {
    const run = await smokeAgainst((res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'), {
      SMOKE_WRITE: '1',
    });
    assert.deepEqual(run.ok, [...tokens, hello]);
    assert.deepEqual(
      [...run.failed.keys()],
      [
        ready,
        openApi,
        noToken,
        garbageToken,
        unknownWithout,
        unknownWith,
        readOnlyPost,
        listing,
        unknownId,
        ...writeChecks,
      ],
    );
    assert.equal(run.failed.get(noToken), 'answered 200, not 401');
    assert.equal(run.failed.get(listing), 'not checked: no OpenAPI document (see its check above)');
    assert.equal(run.failed.get(unknownId), 'answered 200, not 404');
    assert.equal(run.failed.get(writeChecks[0] ?? ''), 'answered 200 without X-Request-Id');
    assert.match(run.stdout, /^smoke: 3 ok, 15 failed/m);
    assert.equal(run.code, 1);
  });

  it('fails against a server that answers 401 with a Bearer challenge to everything: /hello and the checks with a valid token catch it', async () => {
    const run = await smokeAgainst(
      (res) => res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' }).end('{}'),
      { SMOKE_WRITE: '1' },
    );
    assert.deepEqual(run.ok, [...tokens, noToken, unknownWithout]);
    assert.deepEqual(
      [...run.failed.keys()],
      [hello, ready, openApi, garbageToken, unknownWith, readOnlyPost, listing, unknownId, ...writeChecks],
    );
    assert.equal(run.failed.get(hello), 'answered 401, not 200');
    assert.equal(run.failed.get(unknownWith), 'answered 401, not 404');
    assert.equal(run.code, 1);
  });

  it('fails every check of a server that accepts connections and never answers, each within SMOKE_TIMEOUT_MS', async () => {
    const run = await smokeAgainst(() => undefined, { SMOKE_TIMEOUT_MS: '2000' });
    assert.deepEqual(run.ok, tokens);
    assert.deepEqual([...run.failed.keys()], readChecks);
    for (const [name, why] of run.failed) assert.match(why, /^no answer from http:\S+ within 2000 ms$/, name);
    assert.equal(run.code, 1);
  });
});

describe('npm run smoke against node dist/server.js in Cognito mode (COGNITO_ISSUER_URL)', () => {
  const userPoolId = 'local_Smoke';
  let dir: string;
  let issuer: LocalIssuer;
  let store: StoreProcess;
  let child: Child;
  let url: string;

  before(async () => {
    dir = buildDist('smoke');

    // The embedded issuer on its own, as a team runs a Cognito emulator: a pool with one machine client.
    [issuer, store] = await Promise.all([
      startLocalIssuer({
        port: 0,
        userPoolId,
        scopes: productScopes,
        clients: [{ id: 'smoke-machine', secret: 'smoke-machine-secret', scopes: productScopes }],
      }),
      startStoreProcess(),
    ]);
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')));
    const aws = awsLikeEnv(issuer, store.endpoint);
    delete aws['OIDC_ISSUER'];
    delete aws['JWKS_URI'];
    child = spawn(process.execPath, [join(dir, 'dist', 'server.js')], {
      cwd: dir,
      env: {
        ...env,
        ...aws,
        USER_POOL_ID: userPoolId,
        COGNITO_ISSUER_URL: issuer.issuer.slice(0, -userPoolId.length - 1),
        ALLOWED_CLIENT_IDS: 'smoke-machine',
      },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const listening = await watchLines(child).first((line) => line.includes('product-service listening'));
    const { port, mode } = JSON.parse(listening) as { port: number; mode: string };
    assert.equal(mode, 'aws');
    url = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    await stop(child);
    await Promise.all([issuer.close(), store.close()]);
    // The link first, by itself, so that nothing could ever reach through it into this checkout's node_modules.
    unlinkSync(join(dir, 'node_modules'));
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes every check, the write round trip included, and exits 0', async () => {
    const run = await smoke({
      SMOKE_BASE_URL: url,
      SMOKE_TOKEN_URL: issuer.tokenUrl,
      SMOKE_CLIENT: 'smoke-machine:smoke-machine-secret',
      SMOKE_WRITE: '1',
    });
    assert.deepEqual([...run.failed], []);
    assert.deepEqual(run.ok, everyCheck);
    assert.equal(run.code, 0);
  });

  it('fails read-only on the two store reads alone while its store is frozen (SIGSTOP), as a lost store would be', async () => {
    store.freeze();
    let run: SmokeRun;
    try {
      run = await smoke({
        SMOKE_BASE_URL: url,
        SMOKE_TOKEN_URL: issuer.tokenUrl,
        SMOKE_CLIENT: 'smoke-machine:smoke-machine-secret',
      });
    } finally {
      store.thaw();
    }
    assert.deepEqual(
      [...run.failed],
      [
        [listing, 'answered 503 temporarily_unavailable, not 200'],
        [unknownId, 'answered 503 temporarily_unavailable, not 404'],
      ],
    );
    assert.equal(run.code, 1);
  });
});

describe('npm run smoke on its own', () => {
  it('says in one line which variables to set, never their values, and exits 2', async () => {
    const run = await smoke({ SMOKE_BASE_URL: 'http://127.0.0.1:1', SMOKE_CLIENT: 'id-only-no-secret' });
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^smoke: set SMOKE_TOKEN_URL \([^)]*\), SMOKE_CLIENT \(id:secret[^)]*\)\n$/);
    assert.equal(run.stderr.includes('id-only-no-secret'), false);
  });

  it('is the script the pipeline calls, and imports nothing from src/ (of packages, Ajv alone): it tests what is deployed', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts['smoke'], 'tsx smoke/run.ts');
    const imports = readdirSync('smoke')
      .filter((name) => name.endsWith('.ts'))
      .flatMap((file) =>
        [...readFileSync(join('smoke', file), 'utf8').matchAll(/(?:^import[^'"]*from |import\()'([^']+)'/gm)].map(
          (match) => `${file}: ${match[1] ?? ''}`,
        ),
      );
    assert.ok(imports.includes('run.ts: ./checks.js'), 'the grep sees the imports');
    // Node's own modules and the suite's own files, and Ajv, which holds answers to the deployment's /openapi.json.
    assert.deepEqual(
      imports.filter((line) => !/: (node:\w+|\.\/[\w-]+\.js)$/.test(line)),
      ['openapi-validator.ts: ajv/dist/2020.js', 'openapi-validator.ts: ajv-formats'],
    );
  });
});
