// `npm run bench`: side-by-side throughput ratios, measured in one run on this machine. Never part of `npm test`.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import autocannon from 'autocannon';
import { base64url } from 'jose';
import { cognitoAccessClaims, createDpopKey, createTestKey, startTestIssuer } from '@product-service/bearer-testing';
import type { DirectCommand, DirectOp, DirectResult } from './direct-caller.js';

const seconds = Number(process.env['BENCH_SECONDS'] ?? 5);
// Each measured run is a fixed count of requests: the server's CPU time over it is the headline figure.
const authRequests = Number(process.env['BENCH_REQUESTS'] ?? 30_000);
const productRequests = Number(process.env['BENCH_PRODUCT_REQUESTS'] ?? 5_000);
const adapterRequests = Number(process.env['BENCH_ADAPTER_REQUESTS'] ?? 10_000);
const dpopRequests = Number(process.env['BENCH_DPOP_REQUESTS'] ?? 5_000);
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
  /**
   * CPU time of the measured process per answered request, in µs: far steadier between runs than req/s on a shared
   * machine, and the fair figure when the sides are limited by different processes.
   */
  readonly cpuUs: number;
}

let serverPid = 0;
let storePid = 0;
/** The reused token's auth part, once the auth section (or the products summary) has measured it. */
let reusedTokenAuthUs: number | undefined;
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
    /** The process whose CPU is measured; the section's server by default. */
    pid?: number;
    /** Whole header sets rotated per request instead of `tokens` (a DPoP token and its proof go together). */
    headerSets?: readonly Readonly<Record<string, string>>[];
  } = {},
): Promise<Measured> {
  let next = 0;
  const pid = options.pid ?? serverPid;
  const cpuBefore = cpuSeconds(pid);
  const storeBefore = cpuSeconds(storePid);
  const started = performance.now();
  // One token is sent as a fixed header, so that the load generator builds each request once, as for a route without
  // a token; several tokens are rotated per request.
  const [first, ...more] = tokens;
  const { headerSets } = options;
  const headers = {
    ...options.headers,
    ...(first !== undefined && more.length === 0 ? { authorization: `Bearer ${first}` } : {}),
  };
  // The time of the last answer, not of autocannon's end: it ends a fixed-count run on its next 1 s tick.
  let lastAnswer = started;
  const run: autocannon.Options = {
    url,
    connections: options.connections ?? connections,
    ...(options.amount ? { amount: options.amount } : { duration: options.duration ?? seconds }),
    ...(options.rate ? { overallRate: options.rate } : {}),
    ...(options.method ? { method: options.method } : {}),
    ...(options.body ? { body: options.body } : {}),
    headers,
    ...(headerSets
      ? {
          requests: [
            {
              setupRequest: (request: autocannon.Request) => ({
                ...request,
                headers: { ...request.headers, ...headerSets[next++ % headerSets.length] },
              }),
            },
          ],
        }
      : more.length > 0
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
  };
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(run, (error: unknown, done) =>
      error ? reject(error instanceof Error ? error : new Error('autocannon failed')) : resolve(done),
    );
    instance.on('response', () => {
      lastAnswer = performance.now();
    });
  });
  const elapsed = ((options.amount ? lastAnswer : performance.now()) - started) / 1000;
  const used = cpuSeconds(pid) - cpuBefore;
  const answered = result['2xx'] + result.non2xx;
  return {
    rps: answered / elapsed,
    ok: result['2xx'],
    other: result.non2xx + result.errors,
    cpu: used / elapsed,
    cpuUs: answered > 0 ? (used * 1e6) / answered : 0,
    ...(storePid === 0 ? {} : { storeCpu: (cpuSeconds(storePid) - storeBefore) / elapsed }),
  };
}

const rounds = Number(process.env['BENCH_ROUNDS'] ?? 5);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/**
 * Runs each side in turn, `rounds` times, and keeps each side's median run (by req/s) with the median CPU per
 * request of its rounds: machine noise hits every side alike.
 */
async function alternate<const Sides extends readonly (() => Promise<Measured>)[]>(
  sides: Sides,
): Promise<{ -readonly [K in keyof Sides]: Measured }> {
  const runs: Measured[][] = sides.map(() => []);
  for (let round = 0; round < rounds; round += 1) {
    for (const [i, side] of sides.entries()) runs[i]?.push(await side());
  }
  return runs.map((measured) => {
    const rps = median(measured.map((r) => r.rps));
    const run = measured.find((r) => r.rps === rps) ?? measured[0] ?? { rps: 0, ok: 0, other: 0, cpu: 0, cpuUs: 0 };
    return { ...run, cpuUs: median(measured.map((r) => r.cpuUs)) };
  }) as { -readonly [K in keyof Sides]: Measured };
}

function line(name: string, m: Measured): string {
  const perRequest = `${m.cpuUs.toFixed(0).padStart(5)} µs CPU/req`;
  const cpu = `${m.cpuOf ?? 'server'} CPU ${(m.cpu * 100).toFixed(0)} %`;
  const store = m.storeCpu === undefined ? '' : `  store CPU ${(m.storeCpu * 100).toFixed(0).padStart(3)} %`;
  return `  ${name.padEnd(40)} ${perRequest}  ${m.rps.toFixed(0).padStart(7)} req/s  ${cpu.padEnd(16)}${store} (${m.ok} ok, ${m.other} refused)`;
}

/** Both ratios of a pair, CPU per request first: how many times `ours` costs the reference's work, inverted. */
function ratios(ours: Measured, reference: Measured): string {
  return `${(reference.cpuUs / ours.cpuUs).toFixed(2)}x by CPU per request, ${(ours.rps / reference.rps).toFixed(2)}x by req/s`;
}

// Which sections to run: BENCH_ONLY=auth, products, adapters or dpop runs one; unset, all four.
const section = process.env['BENCH_ONLY'];

function firstLine(child: { readonly stdout: Readable }): Promise<string> {
  return new Promise<string>((resolve) => {
    createInterface({ input: child.stdout }).once('line', resolve);
  });
}

/**
 * Each verifier called directly in a process of its own: what a verification costs without HTTP, whose kernel-side
 * socket work is charged to the server by chance of scheduling and widens small differences in section 2.
 */
async function benchVerifyInProcess(): Promise<void> {
  const calls = 20_000;
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'bench/verify-in-process.ts', String(rounds), String(calls)],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  const us = JSON.parse(await firstLine(child)) as Record<
    'cryptoVerify' | 'ours' | 'oursAgain' | 'oursAsync' | 'joseAlone' | 'aws' | 'fastJwt',
    number
  >;
  const row = (name: string, value: number) => `  ${name.padEnd(44)} ${value.toFixed(1).padStart(6)} µs CPU/call\n`;
  process.stdout.write(
    `2b. The same in process, no HTTP (2000 distinct tokens, ${calls} calls per run, median of ${rounds} rounds)\n` +
      row('node:crypto verify alone (no check at all)', us.cryptoVerify) +
      row('ProductService verifier (verifyNow)', us.ours) +
      row('  the same again (A/A)', us.oursAgain) +
      row('ProductService verifier (verify, async)', us.oursAsync) +
      row('jose jwtVerify alone', us.joseAlone) +
      row('aws-jwt-verify verifySync', us.aws) +
      row('fast-jwt', us.fastJwt) +
      `  ours above fast-jwt: ${(us.ours - us.fastJwt).toFixed(1)} µs, above the signature alone: ` +
      `${(us.ours - us.cryptoVerify).toFixed(1)} µs (fast-jwt: ${(us.fastJwt - us.cryptoVerify).toFixed(1)} µs)\n\n`,
  );
}

/** The auth section's targets (bench/auth-targets.ts) against a test issuer, and a token a client would reuse. */
async function startAuthTargets() {
  const key = await createTestKey();
  const jwks = await startTestIssuer({ userPoolId: 'local_BenchPool', keys: [key] });
  const claims = () =>
    cognitoAccessClaims(jwks.issuer, { scope: 'products/read', exp: Math.floor(Date.now() / 1000) + 3600 });

  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'bench/auth-targets.ts', jwks.baseUrl, jwks.userPoolId],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  serverPid = child.pid ?? 0;
  const ports = JSON.parse(await firstLine(child)) as Record<
    | 'plain'
    | 'ours'
    | 'oursUncached'
    | 'verifierAlone'
    | 'article'
    | 'joseAlone'
    | 'joseRemote'
    | 'awsJwtVerify'
    | 'fastJwt',
    number
  >;
  const reused = [await jwks.sign(key, claims())];
  const at = (port: number) => `http://127.0.0.1:${port}/bench`;
  return { key, jwks, claims, child, ports, reused, at };
}

/**
 * A client that reuses its token: the same request, token included, to a route without auth (which ignores the
 * header) and to one with ours, so that the difference is the authentication's work and not the request's size.
 */
async function reusedTokenRuns(targets: Awaited<ReturnType<typeof startAuthTargets>>) {
  const { ports, reused, at } = targets;
  const [plain, ours] = await alternate([
    () => measure(at(ports.plain), reused, { amount: authRequests }),
    () => measure(at(ports.ours), reused, { amount: authRequests }),
  ]);
  reusedTokenAuthUs = ours.cpuUs - plain.cpuUs;
  return { plain, ours };
}

/** The reused token's auth part alone, for a run without the auth section (BENCH_ONLY=products). */
async function reusedTokenAuthPart(): Promise<number> {
  const targets = await startAuthTargets();
  try {
    for (const port of [targets.ports.plain, targets.ports.ours]) {
      await measure(targets.at(port), targets.reused, { duration: 1 });
    }
    const { plain, ours } = await reusedTokenRuns(targets);
    return ours.cpuUs - plain.cpuUs;
  } finally {
    targets.child.kill();
    await targets.jwks.close();
  }
}

async function benchAuth(): Promise<void> {
  const targets = await startAuthTargets();
  const { key, jwks, claims, child, ports, reused, at } = targets;
  const count = (port: number, tokens: readonly string[]) => measure(at(port), tokens, { amount: authRequests });

  try {
    process.stdout.write(
      `Auth benchmark: ${connections} connections, ${authRequests} requests per run, median of ${rounds} alternating rounds, servers in a process of their own\n\n`,
    );
    // Warm up every target once so that JIT and caches are not measured.
    for (const port of Object.values(ports)) await measure(at(port), reused, { duration: 1 });

    // The A/A pair first: one target against itself, so that the noise of this run is in sight.
    const [first, second] = await alternate([() => count(ports.ours, reused), () => count(ports.ours, reused)]);
    process.stdout.write(
      `0. A/A: the same target twice\n${line('route with ProductService auth', first)}\n` +
        `${line('the same again', second)}\n  A/A ratio: ${ratios(second, first)} (the noise of this run)\n\n`,
    );

    const { plain, ours } = await reusedTokenRuns(targets);
    process.stdout.write('1. A client that reuses its token\n');
    process.stdout.write(
      `${line('route without auth (token ignored)', plain)}\n${line('route with ProductService auth', ours)}\n`,
    );
    process.stdout.write(
      `  ratio: ${ratios(ours, plain)} (goal >= 0.85x); auth's own part: ${(ours.cpuUs - plain.cpuUs).toFixed(1)} µs CPU per request\n\n`,
    );

    const distinct = 4_000;
    const fresh = await Promise.all(Array.from({ length: distinct }, () => jwks.sign(key, claims())));
    // No side may remember a verified token here: ours runs with its token cache off, the peers have none (fast-jwt's
    // is off). jose's jwtVerify alone, against keys held in memory and with no other check, is the floor under any
    // verifier built on jose; the peers are the libraries a team would otherwise choose.
    const [oursFresh, aloneFresh, joseFresh, joseRemoteFresh, awsFresh, fastFresh, articleFresh] = await alternate([
      () => count(ports.oursUncached, fresh),
      () => count(ports.verifierAlone, fresh),
      () => count(ports.joseAlone, fresh),
      () => count(ports.joseRemote, fresh),
      () => count(ports.awsJwtVerify, fresh),
      () => count(ports.fastJwt, fresh),
      () => count(ports.article, fresh),
    ]);
    process.stdout.write(`2. A new token on every request (${distinct} distinct RS256 tokens, token cache off)\n`);
    process.stdout.write(
      `${line('ProductService auth, verify every request', oursFresh)}\n` +
        `${line('  its verifier alone, called as the peers', aloneFresh)}\n` +
        `${line('jose jwtVerify alone (no other check)', joseFresh)}\n` +
        `${line('Koa + jose jwtVerify + createRemoteJWKSet', joseRemoteFresh)}\n` +
        `${line('Koa + aws-jwt-verify verifySync', awsFresh)}\n` +
        `${line('Koa + fast-jwt, key fetched once', fastFresh)}\n` +
        `${line('koa-jwt + jwks-rsa (2018 article)', articleFresh)}\n`,
    );
    const peers = [joseRemoteFresh, awsFresh, fastFresh, articleFresh];
    const fastest = peers.reduce((best, peer) => (peer.cpuUs < best.cpuUs ? peer : best));
    const fastestName = ['jose + createRemoteJWKSet', 'aws-jwt-verify', 'fast-jwt', 'koa-jwt'][peers.indexOf(fastest)];
    process.stdout.write(
      `  our own checks: ${(oursFresh.cpuUs - joseFresh.cpuUs).toFixed(1)} µs CPU per new token above jose's ` +
        `jwtVerify alone (goal <= 5 µs)\n` +
        `  against the fastest peer (${fastestName ?? ''}): ${ratios(oursFresh, fastest)}, ` +
        `${(oursFresh.cpuUs - fastest.cpuUs).toFixed(1)} µs per new token (goal <= 0 µs); ` +
        `the verifier alone ${(aloneFresh.cpuUs - fastest.cpuUs).toFixed(1)} µs, the route policy, scope check and ` +
        `RFC 6750 answers ${(oursFresh.cpuUs - aloneFresh.cpuUs).toFixed(1)} µs\n` +
        `  against the 2018 article: ${ratios(oursFresh, articleFresh)}\n\n`,
    );
    await benchVerifyInProcess();

    // Forged tokens with random kids: refused before any signature work, so they cost nothing to make.
    const forged = Array.from({ length: 5_000 }, () => {
      const header = base64url.encode(JSON.stringify({ alg: 'RS256', kid: randomUUID() }));
      return `${header}.${base64url.encode(JSON.stringify(claims()))}.${base64url.encode(randomUUID())}`;
    });
    const floodRate = 1_000;
    const fetchesBefore = jwks.requests.jwks;
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
    const fetches = jwks.requests.jwks - fetchesBefore;
    const windowSeconds = (performance.now() - floodStarted) / 1000;
    process.stdout.write(`3. A flood of unknown kids (${floodRate} req/s) beside legitimate traffic\n`);
    process.stdout.write(`${line('legitimate, alone', normal)}\n${line('legitimate, during the flood', legit)}\n`);
    if (flood) process.stdout.write(`${line('flood (last round)', flood)}\n`);
    process.stdout.write(
      `  legitimate ratio: ${(legit.rps / normal.rps).toFixed(2)}x of normal (goal >= 0.8x); JWKS fetches: ` +
        `${fetches} in ${windowSeconds.toFixed(0)} s (goal: at most one per 30 s cooldown begun, ` +
        `<= ${Math.ceil(windowSeconds / 30)} here)\n`,
    );
  } finally {
    child.kill();
    await jwks.close();
  }
}

// Products: the service's GET and POST against the same store calls made directly, each side in a process of its
// own (the store, the service, the floors and the direct caller), so that each process's CPU is its side's cost.
// Two floors show what no change to this service could beat: Koa with the products service alone, and node:http
// with the bare store calls.
async function benchProducts(): Promise<void> {
  const spawnBench = (
    entry: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv = process.env,
    imports: readonly string[] = [],
  ) =>
    spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', ...imports.flatMap((path) => ['--import', path]), entry, ...args],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
        env,
      },
    );
  const store = spawnBench('test/support/dynalite-main.ts', []);
  // The collector sidecar's OTLP/HTTP receiver, on loopback: it reads every export and keeps nothing.
  let otlpBytes = 0;
  const receiver = createServer((request, response) => {
    request.on('data', (chunk: Buffer) => (otlpBytes += chunk.length));
    request.on('end', () => response.end());
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const traced = {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_TRACES_SAMPLER: 'always_on',
    OTEL_METRIC_EXPORT_INTERVAL: '5000',
  };
  const probe = './bench/module-probe.ts';
  const productKey = await createTestKey();
  const productJwks = await startTestIssuer({ userPoolId: 'local_ProductsBench', keys: [productKey] });
  const { endpoint } = JSON.parse(await firstLine(store)) as { endpoint: string };
  storePid = store.pid ?? 0;
  // dynalite accepts any credentials; the SDK's default chain reads these.
  const env = { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' };
  const targetArgs = [productJwks.issuer, productJwks.jwksUri, endpoint];
  const children = {
    service: spawnBench('bench/products-targets.ts', ['service', ...targetArgs], env, [probe]),
    serviceAgain: spawnBench('bench/products-targets.ts', ['service', ...targetArgs], env),
    traced: spawnBench('bench/products-targets.ts', ['service', ...targetArgs], { ...env, ...traced }, [
      probe,
      './src/telemetry/register.ts',
    ]),
    // Prod's sampling (its parameter file): 5 % of new traces, a parent's decision kept.
    sampled: spawnBench(
      'bench/products-targets.ts',
      ['service', ...targetArgs],
      { ...env, ...traced, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.05' },
      ['./src/telemetry/register.ts'],
    ),
    koa: spawnBench('bench/products-targets.ts', ['koa', ...targetArgs], env),
    koaUnbounded: spawnBench('bench/products-targets.ts', ['koa-unbounded', ...targetArgs], env),
    bare: spawnBench('bench/products-targets.ts', ['bare', ...targetArgs], env),
    naive: spawnBench('bench/products-targets.ts', ['naive', ...targetArgs], env),
  };
  // Two direct callers: a caller answers one command at a time, and the POST comparison loads two direct sides at once.
  const callers = [0, 1].map(() => {
    const child = spawnBench('bench/direct-caller.ts', [endpoint]);
    return { child, lines: createInterface({ input: child.stdout }) };
  });
  try {
    type Started = { url: string; modules?: { resolved: number; otel: number } };
    const targets = {
      service: {
        ...(JSON.parse(await firstLine(children.service)) as Started),
        pid: children.service.pid ?? 0,
      },
      serviceAgain: {
        ...(JSON.parse(await firstLine(children.serviceAgain)) as { url: string }),
        pid: children.serviceAgain.pid ?? 0,
      },
      traced: { ...(JSON.parse(await firstLine(children.traced)) as Started), pid: children.traced.pid ?? 0 },
      sampled: { ...(JSON.parse(await firstLine(children.sampled)) as Started), pid: children.sampled.pid ?? 0 },
      koa: { ...(JSON.parse(await firstLine(children.koa)) as { url: string }), pid: children.koa.pid ?? 0 },
      koaUnbounded: {
        ...(JSON.parse(await firstLine(children.koaUnbounded)) as { url: string }),
        pid: children.koaUnbounded.pid ?? 0,
      },
      bare: { ...(JSON.parse(await firstLine(children.bare)) as { url: string }), pid: children.bare.pid ?? 0 },
      naive: { ...(JSON.parse(await firstLine(children.naive)) as { url: string }), pid: children.naive.pid ?? 0 },
    };
    const now = Math.floor(Date.now() / 1000);
    const token = await productJwks.sign(productKey, {
      sub: 'bench',
      iss: productJwks.issuer,
      scope: 'products/read products/write',
      iat: now,
      exp: now + 3600,
    });
    const fields = { name: 'Trek Domane', imageURL: 'https://images.example.com/domane.png', tags: ['road'] };
    const body = JSON.stringify(fields);
    const created = await fetch(`${targets.service.url}/products`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    });
    if (created.status !== 201) throw new Error(`POST /products answered ${created.status}: ${await created.text()}`);
    const { id } = (await created.json()) as { id: string };

    async function direct(op: DirectOp, runSeconds = seconds, rate?: number, which = 0): Promise<Measured> {
      const entry = callers[which];
      if (!entry) throw new Error(`no direct caller ${which}`);
      const { child: caller, lines: callerLines } = entry;
      const storeBefore = cpuSeconds(storePid);
      const answered = new Promise<string>((resolve) => callerLines.once('line', resolve));
      const fixed = rate === undefined ? {} : { rate, count: productRequests };
      caller.stdin.write(
        `${JSON.stringify({ op, seconds: runSeconds, connections, id, fields, ...fixed } satisfies DirectCommand)}\n`,
      );
      const result = JSON.parse(await answered) as DirectResult;
      return {
        rps: result.ok / result.elapsed,
        ok: result.ok,
        other: 0,
        cpu: result.cpuSeconds / result.elapsed,
        cpuUs: (result.cpuSeconds * 1e6) / result.ok,
        cpuOf: 'caller',
        storeCpu: (cpuSeconds(storePid) - storeBefore) / result.elapsed,
      };
    }
    const post = { method: 'POST', body, headers: { 'content-type': 'application/json' } } as const;
    const get = (target: { url: string; pid: number }, duration?: number) =>
      measure(`${target.url}/products/${id}`, [token], {
        pid: target.pid,
        ...(duration ? { duration } : { amount: productRequests }),
      });
    const create = (target: { url: string; pid: number }, duration?: number) =>
      measure(`${target.url}/products`, [token], {
        ...post,
        pid: target.pid,
        ...(duration ? { duration } : { amount: productRequests }),
      });

    // Warm-up of every side, then the A/A pair: the same target twice, so that the noise of this run is in sight.
    for (const target of Object.values(targets)) {
      await get(target, 1);
      await create(target, 1);
    }
    await direct('get', 1);
    await direct('create', 1);
    await direct('put', 1);
    await direct('put', 1, undefined, 1);
    const [first, second] = await alternate([() => get(targets.service), () => get(targets.service)]);
    process.stdout.write(
      '\n4. Products API against the same calls to DynamoDB made directly (dynalite; every side in its own process)\n',
    );
    process.stdout.write(`${line('A/A: GET /products/:id', first)}\n${line('A/A: the same again', second)}\n`);
    process.stdout.write(`  A/A ratio: ${ratios(second, first)} (the noise of this run)\n\n`);

    // Tracing: the image's command with OTEL_* set (every request sampled, exported to a loopback receiver) against
    // the same service with nothing set, which loads no OpenTelemetry module at all, and against that service's twin
    // (the A/A pair of this comparison). The three take the same fixed rate at the same time, so that whatever else
    // the machine does in a round weighs on all three alike: a difference of a few per cent is then above the noise,
    // which it is not when they take turns.
    const tracingRate = Number(process.env['BENCH_TRACING_RATE'] ?? 200);
    // The untraced service has served the A/A pair above; its twin and the traced one get as many requests first, so
    // that all three are compared equally warm (the JIT's work shows in CPU per request for thousands of requests).
    await Promise.all(
      [targets.serviceAgain, targets.traced, targets.sampled].map((target) =>
        measure(`${target.url}/products/${id}`, [token], { pid: target.pid, amount: 2 * rounds * productRequests }),
      ),
    );
    const tracingRounds: Measured[][] = [[], [], [], []];
    for (let round = 0; round < rounds; round += 1) {
      const measured = await Promise.all(
        [targets.service, targets.serviceAgain, targets.traced, targets.sampled].map((target) =>
          measure(`${target.url}/products/${id}`, [token], {
            pid: target.pid,
            amount: productRequests,
            rate: tracingRate,
          }),
        ),
      );
      measured.forEach((run, side) => tracingRounds[side]?.push(run));
    }
    const [offGet, offAgain, onGet, sampledGet] = tracingRounds.map((runs) => ({
      ...(runs[0] as Measured),
      cpuUs: median(runs.map((run) => run.cpuUs)),
      rps: median(runs.map((run) => run.rps)),
    })) as [Measured, Measured, Measured, Measured];
    const more = (than: Measured, measured: Measured) =>
      `${(((measured.cpuUs - than.cpuUs) / than.cpuUs) * 100).toFixed(1)} %`;
    const modules = (target: Started) =>
      target.modules ? `${target.modules.otel} of its ${target.modules.resolved} modules` : 'not probed';
    process.stdout.write(
      `  Tracing: four services under ${tracingRate} req/s each at the same time, median of ${rounds} rounds\n` +
        `${line('GET /products/:id, telemetry off', offGet)}\n` +
        `${line('  A/A: its twin, telemetry off', offAgain)}\n` +
        `${line('GET /products/:id, traced (100 %, OTLP)', onGet)}\n` +
        `${line('GET /products/:id, sampled 5 % (prod)', sampledGet)}\n` +
        `  A/A: ${more(offGet, offAgain)} (the noise); tracing at 5 %: ${more(offGet, sampledGet)} more CPU per ` +
        `request (goal <= 3 %); at 100 %: ${more(offGet, onGet)}, ${(otlpBytes / 1024).toFixed(0)} KiB exported; OpenTelemetry modules loaded: off ` +
        `${modules(targets.service)}, on ${modules(targets.traced)}\n\n`,
    );

    // The store path: every side loaded at the same fixed rate at the same time (the tracing line's method), so that
    // what the machine does in a round weighs on all alike; medians of rounds, the A/A pair (service and twin) first.
    // The direct calls are made at the same rate from a process of their own (bench/direct-caller.ts).
    const storeRate = Number(process.env['BENCH_STORE_RATE'] ?? 100);
    const fixed = { amount: productRequests, rate: storeRate };
    const together = async (sides: readonly (() => Promise<Measured>)[]): Promise<Measured[]> => {
      const runs: Measured[][] = sides.map(() => []);
      for (let round = 0; round < rounds; round += 1) {
        (await Promise.all(sides.map((side) => side()))).forEach((run, i) => runs[i]?.push(run));
      }
      return runs.map((measured) => ({
        ...(measured[0] as Measured),
        cpuUs: median(measured.map((run) => run.cpuUs)),
        rps: median(measured.map((run) => run.rps)),
      }));
    };
    const getAt = (target: { url: string; pid: number }) =>
      measure(`${target.url}/products/${id}`, [token], { pid: target.pid, ...fixed });
    const createAt = (target: { url: string; pid: number }) =>
      measure(`${target.url}/products`, [token], { ...post, pid: target.pid, ...fixed });
    // The naive service, the floors and the ceiling have had only the warm-up: as many requests as the service's first.
    await Promise.all(
      [targets.naive, targets.koa, targets.koaUnbounded, targets.bare].map((target) =>
        measure(`${target.url}/products/${id}`, [token], { pid: target.pid, amount: 2 * rounds * productRequests }),
      ),
    );
    const [serviceGet, twinGet, naiveGet, koaGet, unboundedGet, bareGet, directGet] = (await together([
      () => getAt(targets.service),
      () => getAt(targets.serviceAgain),
      () => getAt(targets.naive),
      () => getAt(targets.koa),
      () => getAt(targets.koaUnbounded),
      () => getAt(targets.bare),
      () => direct('get', seconds, storeRate),
    ])) as [Measured, Measured, Measured, Measured, Measured, Measured, Measured];
    process.stdout.write(
      `  Store path: seven sides under ${storeRate} req/s each at the same time, median of ${rounds} rounds\n` +
        `${line('A/A: GET /products/:id, the service', serviceGet)}\n${line('A/A: its twin', twinGet)}\n` +
        `  A/A: ${more(serviceGet, twinGet)} (the noise)\n` +
        `${line('naive: Koa + router + GetItem, no auth', naiveGet)}\n` +
        `${line('floor: Koa + router + products service', koaGet)}\n` +
        `${line('  the same, store calls not bounded', unboundedGet)}\n` +
        `${line('ceiling: node:http + the GetItem', bareGet)}\n${line('GetItem, direct (default client)', directGet)}\n`,
    );
    process.stdout.write(
      `  GET vs the naive service: ${ratios(serviceGet, naiveGet)} (goal >= 1.00x)\n` +
        `  GET vs a bare GetItem: ${ratios(serviceGet, directGet)} (goal >= 0.85x, stretch 1.0x)\n` +
        `  Koa floor: ${ratios(koaGet, directGet)}; node:http ceiling: ${ratios(bareGet, directGet)}\n` +
        `  the service's own part: ${(serviceGet.cpuUs - directGet.cpuUs).toFixed(0)} µs per request, ` +
        `${(serviceGet.cpuUs - koaGet.cpuUs).toFixed(0)} µs of it above the Koa floor; the bound on store calls ` +
        `${(koaGet.cpuUs - unboundedGet.cpuUs).toFixed(0)} µs\n\n`,
    );

    const [servicePost, koaPost, unboundedPost, barePost, directCreate, directPut] = (await together([
      () => createAt(targets.service),
      () => createAt(targets.koa),
      () => createAt(targets.koaUnbounded),
      () => createAt(targets.bare),
      () => direct('create', seconds, storeRate),
      () => direct('put', seconds, storeRate, 1),
    ])) as [Measured, Measured, Measured, Measured, Measured, Measured];
    process.stdout.write(
      `  POST: six sides under ${storeRate} req/s each at the same time, median of ${rounds} rounds\n` +
        `${line('POST /products through the service', servicePost)}\n` +
        `${line('floor: Koa + router + products service', koaPost)}\n` +
        `${line('  the same, store calls not bounded', unboundedPost)}\n` +
        `${line('ceiling: node:http + the two calls', barePost)}\n` +
        `${line('put with outbox entry + removal, direct', directCreate)}\n${line('PutItem, direct', directPut)}\n`,
    );
    process.stdout.write(
      `  POST vs the same two calls made directly: ${ratios(servicePost, directCreate)} (goal >= 0.8x); ` +
        `${ratios(servicePost, directPut)} of a bare PutItem\n` +
        `  the outbox (its entry in the put, then the removal), direct: ` +
        `${(directCreate.cpuUs - directPut.cpuUs).toFixed(0)} µs per create over a bare PutItem\n` +
        `  Koa floor: ${ratios(koaPost, directCreate)}; node:http ceiling: ${ratios(barePost, directCreate)}\n` +
        `  the service's own part: ${(servicePost.cpuUs - directCreate.cpuUs).toFixed(0)} µs per request, ` +
        `${(servicePost.cpuUs - koaPost.cpuUs).toFixed(0)} µs of it above the Koa floor; the bound on store calls ` +
        `${(koaPost.cpuUs - unboundedPost.cpuUs).toFixed(0)} µs\n\n`,
    );

    // The store client's own CPU per GetItem against a default client's, and each SDK lever alone.
    const levers = spawnBench('bench/store-client-levers.ts', []);
    let ourClient = 'not measured';
    for await (const leverLine of createInterface({ input: levers.stdout })) {
      process.stdout.write(`${leverLine}\n`);
      ourClient = /^ {2}our client against the default: (.*)$/.exec(leverLine)?.[1] ?? ourClient;
    }

    // Every goal of the products half in one place, each with the A/A pair of its own comparison.
    const reusedUs = reusedTokenAuthUs ?? (await reusedTokenAuthPart());
    process.stdout.write(
      `  Goals (issue 30, item 6), CPU per request:\n` +
        `    A/A: the alternating pair ${ratios(second, first)}; the store path ${more(serviceGet, twinGet)}; ` +
        `tracing ${more(offGet, offAgain)}\n` +
        `    GET vs the naive service: ${ratios(serviceGet, naiveGet)} (goal >= 1.00x)\n` +
        `    GET vs a bare GetItem on a default client: ${ratios(serviceGet, directGet)} (goal >= 0.85x, stretch 1.0x)\n` +
        `    our client vs a default client, per GetItem: ${ourClient}\n` +
        `    POST vs the two calls made directly: ${ratios(servicePost, directCreate)} (goal >= 0.8x); the outbox ` +
        `${(directCreate.cpuUs - directPut.cpuUs).toFixed(0)} µs per create over a bare PutItem\n` +
        `    reused token, auth's own part: ${reusedUs.toFixed(1)} µs (goal <= 5 µs)\n` +
        `    tracing at 5 % (prod): ${more(offGet, sampledGet)} (goal <= 3 %); at 100 %: ${more(offGet, onGet)}\n\n`,
    );
  } finally {
    for (const child of [...Object.values(children), ...callers.map(({ child }) => child), store]) child.kill();
    await productJwks.close();
    receiver.closeAllConnections();
    receiver.close();
  }
}

// Adapters: each of ours beside the middleware its framework's users pick today, a new token on every request.
async function benchAdapters(): Promise<void> {
  const key = await createTestKey();
  const issuer = await startTestIssuer({ userPoolId: 'local_AdapterBench', keys: [key] });
  // express-oauth2-jwt-bearer requires an audience, so every side is given one and checks it.
  const audience = 'https://bench.example/api';
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'bench/adapter-targets.ts', issuer.issuer, issuer.jwksUri, audience],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  serverPid = child.pid ?? 0;
  type Framework = 'express' | 'fastify' | 'koa' | 'node';
  const ports = JSON.parse(await firstLine(child)) as Record<`${Framework}${'Ours' | 'Incumbent'}`, number>;
  const at = (port: number) => `http://127.0.0.1:${port}/bench`;
  const count = (port: number, tokens: readonly string[]) => measure(at(port), tokens, { amount: adapterRequests });
  try {
    const now = Math.floor(Date.now() / 1000);
    const distinct = 4_000;
    const tokens = await Promise.all(
      Array.from({ length: distinct }, () =>
        issuer.sign(key, {
          ...cognitoAccessClaims(issuer.issuer, { scope: 'products/read' }),
          aud: audience,
          iat: now,
          exp: now + 3600,
          jti: randomUUID(),
        }),
      ),
    );
    // Every side must admit the token and refuse none: a side that refused would be measured doing less.
    for (const [name, port] of Object.entries(ports)) {
      const answer = await fetch(at(port), { headers: { authorization: `Bearer ${tokens[0] ?? ''}` } });
      if (answer.status !== 200) throw new Error(`${name} answered ${answer.status}: ${await answer.text()}`);
      const refused = await fetch(at(port));
      if (refused.status !== 401) throw new Error(`${name} answered ${refused.status} without a token`);
    }
    for (const port of Object.values(ports)) await measure(at(port), tokens, { duration: 1 });
    process.stdout.write(
      `\n5. Adapters: a new token on every request (${distinct} distinct RS256 tokens, ${adapterRequests} requests per ` +
        `run, median of ${rounds} alternating rounds), each adapter beside its framework's incumbent\n`,
    );
    const [first, second] = await alternate([() => count(ports.koaOurs, tokens), () => count(ports.koaOurs, tokens)]);
    process.stdout.write(
      `${line('A/A: Koa adapter', first)}\n${line('A/A: the same again', second)}\n` +
        `  A/A ratio: ${ratios(second, first)} (the noise of this run)\n`,
    );
    const incumbents: Record<Framework, string> = {
      express: 'Express + express-oauth2-jwt-bearer',
      fastify: 'Fastify + @fastify/jwt + get-jwks',
      koa: 'Koa + koa-jwt + jwks-rsa',
      node: 'node:http + jose createRemoteJWKSet',
    };
    for (const framework of ['express', 'fastify', 'koa', 'node'] as const) {
      const [ours, incumbent] = await alternate([
        () => count(ports[`${framework}Ours`], tokens),
        () => count(ports[`${framework}Incumbent`], tokens),
      ]);
      process.stdout.write(
        `${line(`${framework} adapter (ours)`, ours)}\n${line(incumbents[framework], incumbent)}\n` +
          `  ours: ${ratios(ours, incumbent)}, ${(ours.cpuUs - incumbent.cpuUs).toFixed(1)} µs CPU per new token ` +
          `against the incumbent (goal <= 0)\n`,
      );
    }
  } finally {
    child.kill();
    await issuer.close();
  }
}

// DPoP (RFC 9449): the CPU a proof check costs, ours beside express-oauth2-jwt-bearer's, each against its own bearer
// line (the same tokens, unbound, without a proof) so that the difference is the proof alone.
async function benchDpop(): Promise<void> {
  const key = await createTestKey();
  const issuer = await startTestIssuer({ userPoolId: 'local_DpopBench', keys: [key] });
  const audience = 'https://bench.example/api';
  // Ours builds htu from this configured URL; the incumbent from the Host header the client sends (127.0.0.1:port).
  const resource = 'https://bench.example';
  const child = spawn(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      'tsx',
      'bench/dpop-targets.ts',
      issuer.issuer,
      issuer.jwksUri,
      audience,
      resource,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  serverPid = child.pid ?? 0;
  const ports = JSON.parse(await firstLine(child)) as { ours: number; incumbent: number };
  const at = (port: number) => `http://127.0.0.1:${port}/bench`;
  const htu = { ours: `${resource}/bench`, incumbent: at(ports.incumbent) };
  try {
    const client = await createDpopKey('ES256');
    const now = Math.floor(Date.now() / 1000);
    const distinct = 2_000;
    const mint = (bound: boolean) =>
      Promise.all(
        Array.from({ length: distinct }, () =>
          issuer.sign(key, {
            ...cognitoAccessClaims(issuer.issuer, { scope: 'products/read' }),
            ...(bound ? client.cnf : {}),
            aud: audience,
            iat: now,
            exp: now + 3600,
            jti: randomUUID(),
          }),
        ),
      );
    const [boundTokens, plainTokens] = await Promise.all([mint(true), mint(false)]);
    const bearerSets = plainTokens.map((token) => ({ authorization: `Bearer ${token}` }));
    // A fresh proof for every request of every run (ours refuses a replayed jti), minted by this process before the
    // run starts, so that only the server's checking is measured.
    const proofs = async (side: keyof typeof htu, count: number) =>
      Promise.all(
        Array.from({ length: count }, async (_, i) => {
          const token = boundTokens[i % distinct] ?? '';
          const dpop = await client.proof({ method: 'GET', url: htu[side], token });
          return { authorization: `DPoP ${token}`, dpop };
        }),
      );
    const run = async (side: keyof typeof htu, dpop: boolean) =>
      measure(at(ports[side]), [], {
        amount: dpopRequests,
        headerSets: dpop ? await proofs(side, dpopRequests) : bearerSets,
      });
    // Each side must admit a DPoP request and a bearer request, and refuse a bound token without a proof.
    for (const side of ['ours', 'incumbent'] as const) {
      const [sample] = await proofs(side, 1);
      const admitted = await fetch(at(ports[side]), { headers: sample ?? {} });
      if (admitted.status !== 200)
        throw new Error(`${side} answered ${admitted.status} to DPoP: ${await admitted.text()}`);
      const plain = await fetch(at(ports[side]), { headers: bearerSets[0] ?? {} });
      if (plain.status !== 200) throw new Error(`${side} answered ${plain.status} to a bearer token`);
      const unproven = await fetch(at(ports[side]), { headers: { authorization: `DPoP ${boundTokens[0] ?? ''}` } });
      if (unproven.status < 400) throw new Error(`${side} admitted a bound token without a proof`);
    }
    for (const side of ['ours', 'incumbent'] as const) {
      await run(side, true);
      await run(side, false);
    }
    process.stdout.write(
      `
6. DPoP (RFC 9449): a new ES256 proof and token on every request (${dpopRequests} requests per run, median ` +
        `of ${rounds} alternating rounds), Express, ours beside express-oauth2-jwt-bearer with its DPoP on
`,
    );
    const [first, second] = await alternate([() => run('ours', true), () => run('ours', true)]);
    process.stdout.write(
      `${line('A/A: ours, DPoP', first)}
${line('A/A: the same again', second)}
` +
        `  A/A ratio: ${ratios(second, first)} (the noise of this run)
`,
    );
    const [oursBearer, oursDpop, theirsBearer, theirsDpop] = await alternate([
      () => run('ours', false),
      () => run('ours', true),
      () => run('incumbent', false),
      () => run('incumbent', true),
    ]);
    process.stdout.write(
      `${line('ours, bearer token', oursBearer)}
${line('ours, DPoP token + proof', oursDpop)}
` +
        `${line('express-oauth2-jwt-bearer, bearer token', theirsBearer)}
` +
        `${line('express-oauth2-jwt-bearer, DPoP + proof', theirsDpop)}
` +
        `  the proof check: ours ${(oursDpop.cpuUs - oursBearer.cpuUs).toFixed(0)} µs CPU, the incumbent's ` +
        `${(theirsDpop.cpuUs - theirsBearer.cpuUs).toFixed(0)} µs; a DPoP request, ours: ${ratios(oursDpop, theirsDpop)}
`,
    );
  } finally {
    child.kill();
    await issuer.close();
  }
}

if (section === undefined || section === 'auth') await benchAuth();
if (section === undefined || section === 'products') await benchProducts();
if (section === undefined || section === 'adapters') await benchAdapters();
if (section === undefined || section === 'dpop') await benchDpop();
