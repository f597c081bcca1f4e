import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { storeClientConfig } from './store-client.js';
import { SNSClient } from '@aws-sdk/client-sns';
import Koa from 'koa';
import { pino, type Logger } from 'pino';
import {
  createAuthenticator,
  createRoutePolicy,
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
import { createCursorCodec } from './products/cursor.js';
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
import { createRouter, policyRulesOf, type Route } from './http/route.js';
import { noTelemetry, type Telemetry } from './telemetry/telemetry.js';

export const productScopes = [readScope, writeScope] as const;

export interface Service {
  readonly app: Koa<AuthState>;
  /** Every route, declared once: the router, the route policy and the OpenAPI document come from this list. */
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
  // The embedded parts of a local run (src/local/) come in as options; the mode is read here only to spare a local
  // run the CURSOR_SECRET warning.
  // Closed in reverse: telemetry last, so that what the drainer does as it stops is exported too.
  const closers: (() => Promise<void>)[] = [() => telemetry.shutdown()];

  const { resourceUrl, stepUpMaxAgeSec } = config.auth;
  const authenticator = createAuthenticator({
    issuers: config.auth.issuers.map((issuer) => ({ ...issuer, keySet: { ...config.auth.keySet, ...issuer.keySet } })),
    realm: config.auth.realm,
    ...(resourceUrl === undefined ? {} : { resourceMetadataUrl: protectedResourceMetadataUrl(resourceUrl) }),
    clockToleranceSec: config.auth.clockToleranceSec,
    ...(config.auth.maxTokenAgeSec === undefined ? {} : { maxTokenAgeSec: config.auth.maxTokenAgeSec }),
    tokenCache: config.auth.tokenCacheSize > 0 ? { maxEntries: config.auth.tokenCacheSize } : false,
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

  const dynamo = options.dynamo ?? createDynamoClient(config, closers);
  telemetry.instrumentStore(dynamo);
  const repository = createProductRepository({
    client: dynamo,
    productsTable: config.products.table,
    snapshotsTable: config.products.snapshotsTable,
  });
  const publisher = telemetry.countPublishes(
    options.publisher ??
      (config.products.eventsTopicArn
        ? createSnsPublisher(
            new SNSClient(config.products.region ? { region: config.products.region } : {}),
            config.products.eventsTopicArn,
          )
        : createLogPublisher(logger)),
  );
  const drainer = createOutboxDrainer({ repository, publisher, logger });
  drainer.start(config.products.outboxDrainIntervalMs);
  const products = createProductService({
    repository,
    drainer,
    deadlineMs: config.products.storeDeadlineMs,
    onConflict: (outcome) => telemetry.storeConflict(outcome),
  });
  closers.push(() => drainer.stop());
  if (!config.products.cursorSecret && config.auth.mode !== 'local') {
    logger.warn('CURSOR_SECRET is not set: pagination cursors work only on the instance that made them');
  }
  const cursors = createCursorCodec(
    config.products.cursorSecret ? Buffer.from(config.products.cursorSecret) : randomBytes(32),
  );
  const { tokenUrl } = config;
  const authCounters = createAuthCounters();
  // One list of routes; the router, the route policy and the OpenAPI document are all made from it.
  const routes = createRoutes({
    authenticator,
    authCounters,
    products: { products, cursors, stepUpMaxAgeSec },
    openApiDocument: () => openApiDocument,
    tokenUrl,
    resourceMetadata: resourceUrl === undefined ? undefined : { resource: resourceUrl, issuers: config.auth.issuers },
  });
  const openApiDocument = createOpenApiDocument({
    routes,
    tokenUrl,
    scopes: { [readScope]: 'Read products', [writeScope]: 'Create, change and delete products' },
  });
  const router = createRouter(routes);
  telemetry.observe({ authCounters, authenticator, drainer });
  const requestTelemetry = telemetry.requests(routes);

  const app = new Koa<AuthState>();
  app.proxy = true;
  app.silent = true;
  // Outermost: the request's server span holds everything, down to the request's own log line.
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
      policy: createRoutePolicy(policyRulesOf(routes)),
      counters: authCounters,
      // Refusals are written by the service's one error writer, in its shape (which is RFC 6750's body).
      answer: (ctx, { status, headers, body }) =>
        writeProblem(ctx, { status, headers, code: body.error, description: body.error_description }),
    }),
  );
  app.use(router.routes());
  app.use(router.allowedMethods());

  return {
    app,
    routes,
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

/** DynamoDB in AWS, with the default credentials (the task role), or at DYNAMODB_ENDPOINT when set. */
function createDynamoClient(config: Config, closers: (() => Promise<void>)[]): DynamoDBClient {
  const client = new DynamoDBClient(storeClientConfig(config.products));
  closers.push(() => {
    client.destroy();
    return Promise.resolve();
  });
  return client;
}
