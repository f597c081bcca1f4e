// Child process of `npm run bench`: one products target per process, so that each one's CPU can be read alone.
//   service  the service as it runs in AWS (an external issuer and DynamoDB endpoint, nothing embedded); traced when
//            started with --import src/telemetry/register.ts and OTEL_* variables, as the image runs it
//   koa      the floor under any Koa service with this one's store guarantees: Koa, @koa/router and the products
//            service (deadline, outbox, drain), without auth, logging, CORS or validation of the request
//   koa-unbounded  the same floor with the request's deadline kept from the store: what the bound on every store call
//            (the race of each call against the request's deadline, src/products/store/client.ts) costs
//   naive    the service a user would otherwise write: Koa, @koa/router and GetItem on a default SDK client (the
//            document client, as the SDK's guide shows it), no auth, no deadline, no validation
//   bare     the ceiling for any HTTP service in Node: node:http making the same store calls, nothing else
import { createServer, type IncomingMessage, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import Router from '@koa/router';
import Koa from 'koa';
import { pino } from 'pino';
import { createService } from '../src/app.js';
import { dynamoCallBounds, storeClientLevers } from '../src/store-client.js';
import { loadConfig } from '../src/config.js';
import { createLogPublisher, createOutboxDrainer } from '../src/products/events.js';
import { createProductRepository, type ProductRepository } from '../src/products/repository.js';
import type { ProductFields } from '../src/products/schema.js';
import { createProductService } from '../src/products/service.js';
import { createWithOutbox, getProduct, storedFields } from './direct-store.js';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

const [mode = 'service', issuer = '', jwksUri = '', endpoint = ''] = process.argv.slice(2);
const config = loadConfig({
  PORT: '0',
  LOG_LEVEL: 'silent',
  OIDC_ISSUER: issuer,
  JWKS_URI: jwksUri,
  DYNAMODB_ENDPOINT: endpoint,
  AWS_REGION: 'us-east-1',
  CURSOR_SECRET: 'bench-cursor-secret-bench-cursor-secret',
  // The OTEL_* variables of the traced target, as the image's environment would hold them.
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('OTEL_'))),
});
// The bare target's client: the service's bounds on every call, for the document client (which refuses the levers).
const client = new DynamoDBClient({ region: 'us-east-1', endpoint, ...dynamoCallBounds(config.products) });
// The store client the service builds in AWS mode (src/store-client.ts), for the Koa floor's repository.
const storeClient = new DynamoDBClient({ region: 'us-east-1', endpoint, ...storeClientLevers(config.products) });

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** The repository with every store call's AbortSignal taken out; the deadline itself still runs (its timer, the wait for events). */
function unbounded(repository: ProductRepository): ProductRepository {
  return new Proxy(repository, {
    get(target, name, receiver) {
      const member: unknown = Reflect.get(target, name, receiver);
      if (typeof member !== 'function') return member;
      return (...args: unknown[]): unknown =>
        Reflect.apply(
          member,
          target,
          args.map((arg) => (arg instanceof AbortSignal ? undefined : arg)),
        );
    },
  });
}

function koaFloor(bounded: boolean): RequestListener {
  const store = createProductRepository({
    client: storeClient,
    productsTable: 'Products',
    snapshotsTable: 'ProductSnapshots',
  });
  const repository = bounded ? store : unbounded(store);
  const logger = pino({ level: 'silent' });
  const drainer = createOutboxDrainer({ repository, publisher: createLogPublisher(logger), logger });
  const products = createProductService({ repository, drainer, deadlineMs: config.products.storeDeadlineMs });
  const router = new Router();
  router.get('/products/:id', async (ctx) => {
    ctx.body = await products.get(ctx.params['id'] ?? '');
  });
  router.post('/products', async (ctx) => {
    ctx.status = 201;
    ctx.body = await products.create((await readBody(ctx.req)) as ProductFields, {
      caller: 'bench',
      idempotencyKey: undefined,
    });
  });
  const callback = new Koa().use(router.routes()).callback();
  return (req, res) => void callback(req, res);
}

function naive(): RequestListener {
  const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', endpoint }));
  const router = new Router();
  router.get('/products/:id', async (ctx) => {
    const item = await getProduct(documents, ctx.params['id'] ?? '');
    if (item) ctx.body = item;
  });
  const callback = new Koa().use(router.routes()).callback();
  return (req, res) => void callback(req, res);
}

async function serviceListener(): Promise<RequestListener> {
  const callback = (await createService(config)).app.callback();
  return (req, res) => void callback(req, res);
}

function bare(): RequestListener {
  const documents = DynamoDBDocumentClient.from(client);
  return (req, res) => {
    const answer =
      req.method === 'POST'
        ? readBody(req).then(async (fields) => {
            const item = storedFields(fields as object);
            return { status: 201, body: { ...item, id: await createWithOutbox(documents, item) } };
          })
        : getProduct(documents, (req.url ?? '').split('/')[2] ?? '').then((item) => ({ status: 200, body: item }));
    answer.then(
      ({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      },
      () => {
        res.writeHead(503);
        res.end();
      },
    );
  };
}

const listener =
  mode === 'service'
    ? await serviceListener()
    : mode === 'koa' || mode === 'koa-unbounded'
      ? koaFloor(mode === 'koa')
      : mode === 'naive'
        ? naive()
        : bare();
const server = createServer(listener);
// What bench/module-probe.ts saw, when it was loaded: how many modules, how many of them OpenTelemetry's.
const resolved = (globalThis as Record<symbol, Set<string> | undefined>)[
  Symbol.for('product-service.bench.resolved-modules')
];
const modules = resolved
  ? { resolved: resolved.size, otel: [...resolved].filter((url) => url.includes('/@opentelemetry/')).length }
  : undefined;
server.listen(0, '127.0.0.1', () => {
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.stdout.write(`${JSON.stringify({ url, ...(modules ? { modules } : {}) })}\n`);
});
// SIGINT ends the process through process.exit, so that a target started with --cpu-prof writes its profile.
process.once('SIGINT', () => process.exit(0));
