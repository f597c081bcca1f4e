// `npm run bench`: side-by-side throughput ratios, measured in one run on this machine. Never part of `npm test`.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import autocannon from 'autocannon';
import { localClientConfig } from '../src/local/dynamodb.js';
import { pendingIndex } from '../src/products/repository.js';
import { base64url } from 'jose';
import { cognitoClaims, makeKey, startJwksServer } from '../test/support/jwks-server.js';

const seconds = Number(process.env['BENCH_SECONDS'] ?? 5);
const connections = 10;

interface Measured {
  readonly rps: number;
  readonly ok: number;
  readonly other: number;
  /** Share of one core the measured process used: near 100 % means it was the limit. */
  readonly cpu: number;
  /** Which process `cpu` is: the server's, or for direct SDK calls this (the calling) process. */
  readonly cpuOf?: 'server' | 'caller';
  /** The same for the DynamoDB process, in the products section. */
  readonly storeCpu?: number;
}

let serverPid = 0;
let storePid = 0;
/** CPU seconds a process has used so far (Linux /proc; 0 elsewhere). */
function cpuSeconds(pid: number): number {
  if (pid === 0) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

async function measure(
  url: string,
  tokens: readonly string[],
  options: {
    duration?: number;
    amount?: number;
    rate?: number;
    connections?: number;
    method?: 'GET' | 'POST';
    body?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<Measured> {
  let next = 0;
  const cpuBefore = cpuSeconds(serverPid);
  const storeBefore = cpuSeconds(storePid);
  const started = performance.now();
  // One token is sent as a fixed header, so that the load generator builds each request once, as for a route without
  // a token; several tokens are rotated per request.
  const [first, ...more] = tokens;
  const headers = {
    ...options.headers,
    ...(first !== undefined && more.length === 0 ? { authorization: `Bearer ${first}` } : {}),
  };
  const result = await autocannon({
    url,
    connections: options.connections ?? connections,
    ...(options.amount ? { amount: options.amount } : { duration: options.duration ?? seconds }),
    ...(options.rate ? { overallRate: options.rate } : {}),
    ...(options.method ? { method: options.method } : {}),
    ...(options.body ? { body: options.body } : {}),
    headers,
    ...(more.length > 0
      ? {
          requests: [
            {
              setupRequest: (request: autocannon.Request) => ({
                ...request,
                headers: { ...request.headers, authorization: `Bearer ${tokens[next++ % tokens.length] ?? ''}` },
              }),
            },
          ],
        }
      : {}),
  });
  const elapsed = (performance.now() - started) / 1000;
  return {
    rps: result.requests.average,
    ok: result['2xx'],
    other: result.non2xx + result.errors,
    cpu: (cpuSeconds(serverPid) - cpuBefore) / elapsed,
    ...(storePid === 0 ? {} : { storeCpu: (cpuSeconds(storePid) - storeBefore) / elapsed }),
  };
}

const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/** Runs each side in turn, `rounds` times, and keeps each side's median run: machine noise hits every side alike. */
async function alternate<const Sides extends readonly (() => Promise<Measured>)[]>(
  sides: Sides,
): Promise<{ -readonly [K in keyof Sides]: Measured }> {
  const runs: Measured[][] = sides.map(() => []);
  for (let round = 0; round < rounds; round += 1) {
    for (const [i, side] of sides.entries()) runs[i]?.push(await side());
  }
  return runs.map((measured) => {
    const rps = median(measured.map((r) => r.rps));
    return measured.find((r) => r.rps === rps) ?? measured[0] ?? { rps: 0, ok: 0, other: 0, cpu: 0 };
  }) as { -readonly [K in keyof Sides]: Measured };
}

function line(name: string, m: Measured): string {
  const cpu = `${m.cpuOf ?? 'server'} CPU ${(m.cpu * 100).toFixed(0)} %`;
  const store = m.storeCpu === undefined ? '' : `  store CPU ${(m.storeCpu * 100).toFixed(0).padStart(3)} %`;
  return `  ${name.padEnd(40)} ${m.rps.toFixed(0).padStart(7)} req/s  ${cpu.padEnd(16)}${store} (${m.ok} ok, ${m.other} refused)`;
}

// Which sections to run: BENCH_ONLY=auth or BENCH_ONLY=products runs one; unset, both.
const section = process.env['BENCH_ONLY'];

function firstLine(child: ChildProcessByStdio<null, Readable, null>): Promise<string> {
  return new Promise<string>((resolve) => {
    createInterface({ input: child.stdout }).once('line', resolve);
  });
}

async function benchAuth(): Promise<void> {
  const jwks = await startJwksServer('local_BenchPool');
  const key = await makeKey();
  jwks.publish([key]);
  const claims = () =>
    cognitoClaims(jwks.issuer, { scope: 'products/read', exp: Math.floor(Date.now() / 1000) + 3600 });

  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/auth-targets.ts', jwks.baseUrl, jwks.userPoolId], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  serverPid = child.pid ?? 0;
  const ports = JSON.parse(await firstLine(child)) as Record<
    'plain' | 'ours' | 'oursUncached' | 'article' | 'joseAlone',
    number
  >;
  const at = (port: number) => `http://127.0.0.1:${port}/bench`;

  try {
    process.stdout.write(
      `Auth benchmark: ${connections} connections, ${seconds} s per run, median of ${rounds} alternating rounds, server in its own process\n\n`,
    );
    const reused = [await jwks.sign(key, claims())];

    // Warm up every target once so that JIT and caches are not measured.
    for (const port of Object.values(ports)) await measure(at(port), reused, { duration: 1 });

    const [plain, ours] = await alternate([
      // The same request, token included, to both routes: the one without auth ignores the header, so that the
      // difference is the authentication's work and not the request's size.
      () => measure(at(ports.plain), reused),
      () => measure(at(ports.ours), reused),
    ]);
    process.stdout.write('1. A client that reuses its token\n');
    process.stdout.write(
      `${line('route without auth (token ignored)', plain)}\n${line('route with ProductService auth', ours)}\n`,
    );
    process.stdout.write(`  ratio: ${(ours.rps / plain.rps).toFixed(2)}x (goal >= 0.85x)\n\n`);

    const count = 4_000;
    const fresh = await Promise.all(Array.from({ length: count }, () => jwks.sign(key, claims())));
    // Neither side may remember a verified token here: ours runs with its token cache off, koa-jwt has none. The third
    // side, jose's jwtVerify alone, is the floor under any verifier built on jose.
    const [oursFresh, articleFresh, joseFresh] = await alternate([
      () => measure(at(ports.oursUncached), fresh),
      () => measure(at(ports.article), fresh),
      () => measure(at(ports.joseAlone), fresh),
    ]);
    process.stdout.write(`2. A new token on every request (${count} distinct RS256 tokens, token cache off)\n`);
    process.stdout.write(
      `${line('ProductService auth', oursFresh)}\n${line('koa-jwt + jwks-rsa (2018 article)', articleFresh)}\n` +
        `${line('jose jwtVerify alone (no other check)', joseFresh)}\n`,
    );
    process.stdout.write(
      `  ratio: ${(oursFresh.rps / articleFresh.rps).toFixed(2)}x (goal >= 4x); jose alone against the article: ` +
        `${(joseFresh.rps / articleFresh.rps).toFixed(2)}x, the most any jose-based verifier can reach here\n\n`,
    );

    // Forged tokens with random kids: refused before any signature work, so they cost nothing to make.
    const forged = Array.from({ length: 5_000 }, () => {
      const header = base64url.encode(JSON.stringify({ alg: 'RS256', kid: randomUUID() }));
      return `${header}.${base64url.encode(JSON.stringify(claims()))}.${base64url.encode(randomUUID())}`;
    });
    const floodRate = 1_000;
    const fetchesBefore = jwks.requests();
    const floodStarted = performance.now();
    let flood: Measured | undefined;
    const [normal, legit] = await alternate([
      () => measure(at(ports.ours), reused),
      async () => {
        const [during, floodRun] = await Promise.all([
          measure(at(ports.ours), reused),
          measure(at(ports.ours), forged, { rate: floodRate, connections: 4 }),
        ]);
        flood = floodRun;
        return during;
      },
    ]);
    const fetches = jwks.requests() - fetchesBefore;
    const windowSeconds = (performance.now() - floodStarted) / 1000;
    process.stdout.write(`3. A flood of unknown kids (${floodRate} req/s) beside legitimate traffic\n`);
    process.stdout.write(`${line('legitimate, alone', normal)}\n${line('legitimate, during the flood', legit)}\n`);
    if (flood) process.stdout.write(`${line('flood (last round)', flood)}\n`);
    process.stdout.write(
      `  legitimate ratio: ${(legit.rps / normal.rps).toFixed(2)}x of normal (goal >= 0.8x); JWKS fetches: ` +
        `${fetches} in ${windowSeconds.toFixed(0)} s = ${((fetches * 30) / windowSeconds).toFixed(2)} per 30 s cooldown ` +
        `(goal <= 1)\n`,
    );
  } finally {
    child.kill();
    await jwks.close();
  }
}

// Products: the service's POST and GET against direct SDK calls to the same dynalite. The store runs in a process of
// its own and the service runs as in AWS (no embedded issuer or store beside it), so the comparison is the service's
// own cost: HTTP, auth, validation, the outbox and the SDK calls it makes.
async function benchProducts(): Promise<void> {
  const store = spawn(process.execPath, ['--import', 'tsx', 'test/support/dynalite-main.ts'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const productJwks = await startJwksServer('local_ProductsBench');
  const productKey = await makeKey();
  productJwks.publish([productKey]);
  const { endpoint } = JSON.parse(await firstLine(store)) as { endpoint: string };
  storePid = store.pid ?? 0;
  const products = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/products-target.ts', productJwks.issuer, productJwks.jwksUri, endpoint],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      // dynalite accepts any credentials; the SDK's default chain reads these.
      env: { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' },
    },
  );
  serverPid = products.pid ?? 0;
  try {
    const target = { ...(JSON.parse(await firstLine(products)) as { url: string }), dynamo: endpoint };
    const now = Math.floor(Date.now() / 1000);
    const token = await productJwks.sign(productKey, {
      sub: 'bench',
      iss: productJwks.issuer,
      scope: 'products/read products/write',
      iat: now,
      exp: now + 3600,
    });
    const body = JSON.stringify({
      name: 'Trek Domane',
      imageURL: 'https://images.example.com/domane.png',
      tags: ['road'],
    });
    const created = await fetch(`${target.url}/products`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    });
    if (created.status !== 201) throw new Error(`POST /products answered ${created.status}: ${await created.text()}`);
    const { id } = (await created.json()) as { id: string };

    const documents = DynamoDBDocumentClient.from(new DynamoDBClient(localClientConfig(target.dynamo)));
    async function direct(op: () => Promise<unknown>): Promise<Measured> {
      const cpuBefore = process.cpuUsage();
      const storeBefore = cpuSeconds(storePid);
      const started = performance.now();
      const until = started + seconds * 1000;
      let ok = 0;
      await Promise.all(
        Array.from({ length: connections }, async () => {
          while (performance.now() < until) {
            await op();
            ok += 1;
          }
        }),
      );
      const elapsed = (performance.now() - started) / 1000;
      const used = process.cpuUsage(cpuBefore);
      return {
        rps: ok / elapsed,
        ok,
        other: 0,
        // The calls run in this process, so its own CPU shows whether the SDK client, not the store, was the limit.
        cpu: (used.user + used.system) / 1e6 / elapsed,
        cpuOf: 'caller',
        storeCpu: (cpuSeconds(storePid) - storeBefore) / elapsed,
      };
    }
    const item = {
      ...(JSON.parse(body) as object),
      version: 1,
      lastModified: new Date().toISOString(),
      deleted: false,
    };

    await measure(`${target.url}/products/${id}`, [token], { duration: 1 });
    const [serviceGet, directGet] = await alternate([
      () => measure(`${target.url}/products/${id}`, [token]),
      () => direct(() => documents.send(new GetCommand({ TableName: 'Products', Key: { id }, ConsistentRead: true }))),
    ]);
    // What a create must store durably, done directly: the product with its outbox entry and pending mark in one
    // conditional put, then the entry's and the mark's removal once the event is out. The bare PutItem is the floor
    // under any create.
    async function createWithOutbox(): Promise<void> {
      const productId = randomUUID();
      await documents.send(
        new PutCommand({
          TableName: 'Products',
          Item: {
            ...item,
            id: productId,
            outbox: { e1: { event: { type: 'created', id: productId, version: 1 } } },
            [pendingIndex.partitionKey]: pendingIndex.pending,
            [pendingIndex.sortKey]: item.lastModified,
          },
          ConditionExpression: 'attribute_not_exists(id)',
        }),
      );
      await documents.send(
        new UpdateCommand({
          TableName: 'Products',
          Key: { id: productId },
          UpdateExpression: 'REMOVE outbox.#key, #state, #since',
          ConditionExpression: '#version = :version',
          ExpressionAttributeNames: {
            '#key': 'e1',
            '#version': 'version',
            '#state': pendingIndex.partitionKey,
            '#since': pendingIndex.sortKey,
          },
          ExpressionAttributeValues: { ':version': 1 },
        }),
      );
    }
    const [servicePost, directPost, directCreate] = await alternate([
      () =>
        measure(`${target.url}/products`, [token], {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
        }),
      () =>
        direct(() => documents.send(new PutCommand({ TableName: 'Products', Item: { ...item, id: randomUUID() } }))),
      () => direct(createWithOutbox),
    ]);
    process.stdout.write(
      '\n4. Products API against direct SDK calls to the same DynamoDB (dynalite, in its own process)\n',
    );
    process.stdout.write(
      `${line('GET /products/:id through the service', serviceGet)}\n${line('GetItem, direct', directGet)}\n`,
    );
    process.stdout.write(`  ratio: ${(serviceGet.rps / directGet.rps).toFixed(2)}x (goal >= 0.8x)\n`);
    process.stdout.write(
      `${line('POST /products through the service', servicePost)}\n${line('PutItem, direct', directPost)}\n` +
        `${line('put with outbox entry + removal, direct', directCreate)}\n`,
    );
    process.stdout.write(
      `  ratio: ${(servicePost.rps / directPost.rps).toFixed(2)}x of a bare PutItem (goal >= 0.8x); ` +
        `${(servicePost.rps / directCreate.rps).toFixed(2)}x of the same two store calls made directly ` +
        `(a create is the conditional put with its outbox entry, then the entry's removal)\n`,
    );
  } finally {
    products.kill();
    store.kill();
    await productJwks.close();
  }
}

if (section === undefined || section === 'auth') await benchAuth();
if (section === undefined || section === 'products') await benchProducts();
