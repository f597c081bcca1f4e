// `node --conditions=source --import tsx bench/store-client-levers.ts`: the CPU of one GetItem in the calling process,
// through a default SDK client and through the service's store client with each of the SDK's levers alone. Every
// variant runs in a process of its own, all at once at the same fixed rate against one dynalite (the tracing line's
// method: whatever else the machine does weighs on all alike), median of rounds; an A/A pair shows the noise.
import { spawn } from 'node:child_process';
import { Agent } from 'node:http';
import { createInterface } from 'node:readline';
import { DynamoDBClient, GetItemCommand, PutItemCommand, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { loadConfig } from '../src/config.js';
import { createProductRepository } from '../src/products/repository.js';
import { localClientConfig } from '../src/local/dynamodb.js';
import { dynamoCallBounds, storeClientConfig } from '../src/store-client.js';

const variants = {
  // A default client and the low-level command: the bare GetItem a user would write.
  'default GetItem': { client: 'default', doc: false, signal: false },
  'default GetItem (A/A twin)': { client: 'default', doc: false, signal: false },
  // What the service ran before: the bounds, the document client, an AbortSignal on every call.
  'ours before (bounds, doc, signal)': { client: 'bounds', doc: true, signal: true },
  // Every lever that paid at once: the low-level client with cacheMiddleware and its own keep-alive agent, the item
  // (un)marshalled by util-dynamodb around the command, no per-call options.
  'combined: cache, agent, marshall, no signal': { client: 'combined', doc: false, signal: false },
  // cacheMiddleware: lib-dynamodb throws at construction ("cacheMiddleware=true is not compatible with the
  // DynamoDBDocumentClient"), so it is measured on the low-level client, where it applies to calls without options.
  'lever: cacheMiddleware, raw, no signal': { client: 'cache', doc: false, signal: false },
  'lever: no per-call AbortSignal': { client: 'bounds', doc: true, signal: false },
  'lever: own keep-alive agent, 16 sockets': { client: 'agent', doc: true, signal: true },
  'lever: accountIdEndpointMode disabled': { client: 'account', doc: true, signal: true },
  'lever: raw GetItem, no doc marshalling': { client: 'bounds', doc: false, signal: true },
  // The service's own store: storeClientConfig's client, and the repository's get with the request's deadline raced
  // beside the call (src/products/store/client.ts).
  'ours now (repository.get, storeClientConfig)': { client: 'ours', doc: false, signal: true, store: true },
} as const satisfies Record<string, { client: string; doc: boolean; signal: boolean; store?: boolean }>;
type Variant = keyof typeof variants;

const rate = Number(process.env['LEVER_RATE'] ?? 30);
const calls = Number(process.env['LEVER_CALLS'] ?? 600);
const rounds = Number(process.env['LEVER_ROUNDS'] ?? 3);
const [mode, endpoint = '', name = ''] = process.argv.slice(2);

function clientFor(kind: (typeof variants)[Variant]['client']): DynamoDBClient {
  const local = localClientConfig(endpoint);
  const products = loadConfig({
    OIDC_ISSUER: 'https://issuer.example',
    DYNAMODB_ENDPOINT: endpoint,
    // Generous on a loaded machine: the bound's cost is its timers, not their length.
    DYNAMODB_TIMEOUT_MS: '10000',
  }).products;
  const bounds = dynamoCallBounds(products);
  const configs: Record<typeof kind, DynamoDBClientConfig> = {
    default: local,
    bounds: { ...local, ...bounds },
    cache: { ...local, ...bounds, cacheMiddleware: true },
    agent: {
      ...local,
      ...bounds,
      requestHandler: { ...bounds.requestHandler, httpAgent: new Agent({ keepAlive: true, maxSockets: 16 }) },
    },
    account: { ...local, ...bounds, accountIdEndpointMode: 'disabled' },
    combined: {
      ...local,
      ...bounds,
      cacheMiddleware: true,
      requestHandler: { ...bounds.requestHandler, httpAgent: new Agent({ keepAlive: true, maxSockets: 16 }) },
    },
    ours: { ...storeClientConfig(products), ...local },
  };
  return new DynamoDBClient(configs[kind]);
}

async function child(): Promise<void> {
  const variant = variants[name as Variant];
  const client = clientFor(variant.client);
  const store =
    'store' in variant
      ? createProductRepository({ client, productsTable: 'Products', snapshotsTable: 'ProductSnapshots' })
      : undefined;
  const documents = variant.doc
    ? DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } })
    : undefined;
  const id = 'lever-bench';
  await client.send(
    new PutItemCommand({
      TableName: 'Products',
      Item: { id: { S: id }, name: { S: 'Trek Domane' }, version: { N: '1' } },
    }),
  );
  const one = async (): Promise<void> => {
    // As the service's deadline does: a controller and a timer per request, cleared at the end.
    const controller = variant.signal ? new AbortController() : undefined;
    const timer = controller ? setTimeout(() => controller.abort(), 5_000) : undefined;
    const options = controller ? { abortSignal: controller.signal } : undefined;
    try {
      if (store) {
        if (!(await store.get(id, controller?.signal))) throw new Error('lever-bench item missing');
      } else if (variant.client === 'combined') {
        const { Item } = await client.send(
          new GetItemCommand({ TableName: 'Products', Key: marshall({ id }), ConsistentRead: true }),
        );
        if (!Item || !unmarshall(Item)['id']) throw new Error('lever-bench item missing');
      } else if (documents)
        await documents.send(new GetCommand({ TableName: 'Products', Key: { id }, ConsistentRead: true }), options);
      else
        await client.send(
          new GetItemCommand({ TableName: 'Products', Key: { id: { S: id } }, ConsistentRead: true }),
          options,
        );
    } finally {
      clearTimeout(timer);
    }
  };
  for await (const line of createInterface({ input: process.stdin })) {
    const count = Number(line);
    const started = performance.now();
    const before = process.cpuUsage();
    const inFlight = new Set<Promise<unknown>>();
    let failed = 0;
    for (let i = 0; i < count; i += 1) {
      const due = started + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      // A call the loaded store failed still cost its CPU; the count says how many there were.
      const call: Promise<unknown> = one()
        .catch(() => (failed += 1))
        .then(() => inFlight.delete(call));
      inFlight.add(call);
      if (inFlight.size >= 10) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const used = process.cpuUsage(before);
    process.stdout.write(`${JSON.stringify({ cpuUs: (used.user + used.system) / count, failed })}\n`);
  }
  process.exit(0);
}

async function parent(): Promise<void> {
  const run = (args: readonly string[]) =>
    spawn(process.execPath, ['--conditions=source', '--import', 'tsx', ...args], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
  const store = run(['test/support/dynalite-main.ts']);
  const lines = (child: ReturnType<typeof run>) => createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const { endpoint: at } = JSON.parse(String((await lines(store).next()).value)) as { endpoint: string };
  const sides = (Object.keys(variants) as Variant[]).map((variant) => {
    const child = run(['bench/store-client-levers.ts', 'child', at, variant]);
    child.once('exit', (code) => {
      if (code !== 0 && code !== null) process.exitCode = 1;
    });
    return { variant, child, lines: lines(child), runs: [] as number[], failed: 0 };
  });
  const round = async (count: number) =>
    Promise.all(
      sides.map(async (side) => {
        side.child.stdin.write(`${count}\n`);
        const { cpuUs, failed } = JSON.parse(String((await side.lines.next()).value)) as {
          cpuUs: number;
          failed: number;
        };
        side.failed += failed;
        return cpuUs;
      }),
    );
  try {
    await round(calls); // warm-up: every side as warm as the others before it is measured
    for (let r = 0; r < rounds; r += 1) (await round(calls)).forEach((us, i) => sides[i]?.runs.push(us));
    const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
    const base = median(sides[0]?.runs ?? []);
    process.stdout.write(
      `GetItem CPU per call in the calling process, ${sides.length} processes at ${rate} calls/s each at once, ` +
        `${calls} calls a round, median of ${rounds} rounds:\n`,
    );
    for (const side of sides) {
      const us = median(side.runs);
      process.stdout.write(
        `  ${side.variant.padEnd(42)} ${us.toFixed(0).padStart(5)} µs CPU/call  ${(us / base).toFixed(2)}x of default${side.failed ? `  (${side.failed} failed)` : ''}\n`,
      );
    }
    const ours = median(sides.find(({ variant }) => variant.startsWith('ours now'))?.runs ?? []);
    const twin = median(sides[1]?.runs ?? []);
    process.stdout.write(
      `  our client against the default: ${(ours / base).toFixed(2)}x (goal <= 0.7x); A/A ${(twin / base).toFixed(2)}x\n`,
    );
  } finally {
    for (const side of sides) side.child.kill();
    store.kill();
  }
}

await (mode === 'child' ? child() : parent());
