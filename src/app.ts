import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { storeClientConfig } from './store-client.js';
import { SNSClient } from '@aws-sdk/client-sns';
import Koa from 'koa';
import { pino, type Logger } from 'pino';
import {
  createAuthenticator,
  protectedResourceMetadataUrl,
  type Authenticator,
  type Principal,
} from '@product-service/bearer';
import { createAuthCounters, createBearerAuth, type AuthCounters, type AuthState } from '@product-service/bearer-koa';
import { createCors } from './http/cors.js';
import type { Config } from './config.js';
import { createErrorHandler, writeProblem } from './http/errors.js';
import { failureFields } from './log-fields.js';
import { createRequestLog } from './http/request-log.js';
import { createUnreadBodyDrain } from './http/unread-body.js';
import { createOpenApiDocument } from './openapi.js';
import { createCursorCodec, type CursorCodec } from './products/cursor.js';
import {
  createLogPublisher,
  createOutboxDrainer,
  createSnsPublisher,
  type EventPublisher,
  type OutboxDrainer,
} from './products/events.js';
import { createProductRepository, type ProductRepository } from './products/repository.js';
import { readScope, writeScope } from './products/routes.js';
import { createProductService, type ProductService } from './products/service.js';
import { createRoutes } from './routes.js';
import { createRouteTable, type Route, type RouteTable } from './http/route.js';
import { noTelemetry, type Telemetry } from './telemetry/telemetry.js';

export const productScopes = [readScope, writeScope] as const;

export interface Service {
  readonly app: Koa<AuthState>;
  /** Every route, declared once: the router (whose matcher also gives each request its access and span name) and the
   * OpenAPI document come from this list. */
  readonly routes: readonly Route[];
  readonly authenticator: Authenticator;
  readonly authCounters: AuthCounters;
  readonly logger: Logger;
  readonly repository: ProductRepository;
  readonly drainer: OutboxDrainer;
  readonly products: ProductService;
  close(): Promise<void>;
}

export interface ServiceOptions {
  readonly logger?: Logger;
  /** A revocation check run on every accepted token (a deny-list by `jti` or `sub`, say). */
  readonly isRevoked?: (principal: Principal) => Promise<boolean>;
  /** Where change events go; SNS when PRODUCT_EVENTS_TOPIC_ARN is set, else the log. */
  readonly publisher?: EventPublisher;
  /** A DynamoDB client made elsewhere (the embedded store of a local run); its maker closes it. */
  readonly dynamo?: DynamoDBClient;
  /** Traces and metrics; by default made from `config.telemetry` (see loadTelemetry), or none. */
  readonly telemetry?: Telemetry;
}

/**
 * JSON lines, one per event; inside a traced request each carries its `trace_id` and `span_id`. A `transport` (the
 * local run's pino-pretty) writes them otherwise.
 */
export function createLogger(
  config: Config,
  telemetry: Telemetry = noTelemetry,
  transport?: pino.TransportSingleOptions,
): Logger {
  const { logFields } = telemetry;
  return pino({
    level: config.logLevel,
    ...(logFields ? { mixin: logFields } : {}),
    ...(transport ? { transport } : {}),
  });
}

/**
 * The telemetry `config` asks for: none, at no cost and with no OpenTelemetry module loaded, unless an OTLP endpoint
 * is set. Then the SDK that src/telemetry/register.ts started before the app (which instruments HTTP, fetch and the
 * AWS SDK), or, run without it, one started here (the service's own metrics and spans only).
 */
export async function loadTelemetry(config: Config): Promise<Telemetry> {
  if (!config.telemetry) return noTelemetry;
  const [{ startedTelemetry, startTelemetry }, { createTelemetry }] = await Promise.all([
    import('./telemetry/sdk.js'),
    import('./telemetry/instruments.js'),
  ]);
  return createTelemetry(startedTelemetry() ?? startTelemetry(config.telemetry));
}

/** The composition root: config in, every dependency built from it, the Koa app out. Tests call it with their own config. */
export async function createService(config: Config, options: ServiceOptions = {}): Promise<Service> {
  const telemetry = options.telemetry ?? (await loadTelemetry(config));
  const logger = options.logger ?? createLogger(config, telemetry);
  // Closed in reverse: telemetry last, so that what the drainer does as it stops is exported too.
  const closers: (() => Promise<void>)[] = [() => telemetry.shutdown()];
  const authenticator = await startAuthenticator(config, options, { logger, telemetry });
  const { repository, drainer, products } = startProducts(config, options, { logger, telemetry, closers });
  const authCounters = createAuthCounters();
  const table = createRouteTable(
    createRoutes({
      authenticator,
      authCounters,
      products: { products, cursors: createCursors(config, logger), stepUpMaxAgeSec: config.auth.stepUpMaxAgeSec },
      openApiDocument: () => openApiDocument,
      tokenUrl: config.tokenUrl,
      resourceMetadata:
        config.auth.resourceUrl === undefined
          ? undefined
          : { resource: config.auth.resourceUrl, issuers: config.auth.issuers },
    }),
  );
  const openApiDocument = createOpenApiDocument({
    routes: table.routes,
    tokenUrl: config.tokenUrl,
    scopes: { [readScope]: 'Read products', [writeScope]: 'Create, change and delete products' },
  });
  telemetry.observe({ authCounters, authenticator, drainer });
  const app = createApp({ config, table, authenticator, authCounters, logger, telemetry });
  return {
    app,
    routes: table.routes,
    authenticator,
    authCounters,
    logger,
    repository,
    drainer,
    products,
    async close() {
      for (const close of closers.reverse()) await close();
    },
  };
}

interface Observers {
  readonly logger: Logger;
  readonly telemetry: Telemetry;
}

/** The authenticator of `config.auth`, its keys fetched once before the first request if they can be had. */
async function startAuthenticator(
  config: Config,
  options: ServiceOptions,
  { logger, telemetry }: Observers,
): Promise<Authenticator> {
  const { auth } = config;
  const authenticator = createAuthenticator({
    issuers: auth.issuers.map((issuer) => ({ ...issuer, keySet: { ...auth.keySet, ...issuer.keySet } })),
    realm: auth.realm,
    ...(auth.resourceUrl === undefined ? {} : { resourceMetadataUrl: protectedResourceMetadataUrl(auth.resourceUrl) }),
    clockToleranceSec: auth.clockToleranceSec,
    ...(auth.maxTokenAgeSec === undefined ? {} : { maxTokenAgeSec: auth.maxTokenAgeSec }),
    tokenCache: auth.tokenCacheSize > 0 ? { maxEntries: auth.tokenCacheSize } : false,
    ...(options.isRevoked ? { isRevoked: options.isRevoked } : {}),
    onKeySetEvent: (issuer, event) => {
      telemetry.keySetEvent(event);
      const level = event.type === 'fetched' ? 'debug' : 'warn';
      logger[level]({ issuer, keySet: event }, `key set ${event.type.replace('_', ' ')}`);
    },
  });
  try {
    await authenticator.warmUp();
  } catch (error) {
    // Not fatal: requests answer 503 until the keys can be had, and the key set keeps trying.
    logger.warn({ failure: failureFields(error) }, 'could not fetch the issuer keys at startup');
  }
  return authenticator;
}

/** The product store, its outbox drainer (started) and the product service over them. */
function startProducts(
  config: Config,
  options: ServiceOptions,
  { logger, telemetry, closers }: Observers & { readonly closers: (() => Promise<void>)[] },
): Pick<Service, 'repository' | 'drainer' | 'products'> {
  const dynamo = options.dynamo ?? createDynamoClient(config, closers);
  telemetry.instrumentStore(dynamo);
  const repository = createProductRepository({
    client: dynamo,
    productsTable: config.products.table,
    snapshotsTable: config.products.snapshotsTable,
  });
  const publisher = telemetry.countPublishes(options.publisher ?? createPublisher(config, logger));
  const drainer = createOutboxDrainer({ repository, publisher, logger });
  drainer.start(config.products.outboxDrainIntervalMs);
  closers.push(() => drainer.stop());
  const products = createProductService({
    repository,
    drainer,
    deadlineMs: config.products.storeDeadlineMs,
    onConflict: (outcome) => telemetry.storeConflict(outcome),
  });
  return { repository, drainer, products };
}

/** Where change events go: SNS when PRODUCT_EVENTS_TOPIC_ARN is set, else the log. */
function createPublisher(config: Config, logger: Logger): EventPublisher {
  const { eventsTopicArn, region } = config.products;
  if (!eventsTopicArn) return createLogPublisher(logger);
  return createSnsPublisher(new SNSClient(region ? { region } : {}), eventsTopicArn);
}

/** Pagination cursors sealed with CURSOR_SECRET, or with a key of this process alone (and a warning, out of a local run). */
function createCursors(config: Config, logger: Logger): CursorCodec {
  const { cursorSecret } = config.products;
  // The mode is read here only to spare a local run (src/local/) the warning.
  if (!cursorSecret && config.auth.mode !== 'local') {
    logger.warn('CURSOR_SECRET is not set: pagination cursors work only on the instance that made them');
  }
  return createCursorCodec(cursorSecret ? Buffer.from(cursorSecret) : randomBytes(32));
}

interface AppParts extends Observers {
  readonly config: Config;
  readonly table: RouteTable;
  readonly authenticator: Authenticator;
  readonly authCounters: AuthCounters;
}

/** The Koa app: its middleware from the outside in, then the routes. */
function createApp({ config, table, authenticator, authCounters, logger, telemetry }: AppParts): Koa<AuthState> {
  const app = new Koa<AuthState>();
  app.proxy = true;
  app.silent = true;
  // Outermost: the request's server span holds everything, down to the request's own log line.
  const requestTelemetry = telemetry.requests(table);
  if (requestTelemetry) app.use(requestTelemetry);
  app.use(createUnreadBodyDrain());
  app.use(createRequestLog(logger));
  app.use(async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    await next();
  });
  app.use(createErrorHandler(logger));
  app.use(createCors(config.corsOrigins));
  app.use(
    createBearerAuth({
      authenticator,
      // Each route's access() is read through the router's own matcher; a path no route serves needs a valid token.
      router: table.router,
      counters: authCounters,
      // Refusals are written by the service's one error writer, in its shape (which is RFC 6750's body).
      answer: (ctx, { status, headers, body }) =>
        writeProblem(ctx, { status, headers, code: body.error, description: body.error_description }),
    }),
  );
  app.use(table.router.routes());
  app.use(table.router.allowedMethods());
  return app;
}

/** DynamoDB in AWS, with the default credentials (the task role), or at DYNAMODB_ENDPOINT when set. */
function createDynamoClient(config: Config, closers: (() => Promise<void>)[]): DynamoDBClient {
  const client = new DynamoDBClient(storeClientConfig(config.products));
  closers.push(() => {
    client.destroy();
    return Promise.resolve();
  });
  return client;
}
