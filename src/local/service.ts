import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Logger } from 'pino';
import {
  createLogger,
  createService,
  loadTelemetry,
  productScopes,
  type Service,
  type ServiceOptions,
} from '../app.js';
import { cognito } from '@product-service/bearer';
import { storeClientLevers } from '../store-client.js';
import type { Config } from '../config.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { localClientConfig, startLocalDynamo } from './dynamodb.js';
import { startLocalIssuer, type LocalIssuer } from './issuer.js';
import { localRedirectUris, localWebClientId } from './web-client.js';

/** The service of a local run, with the embedded parts it runs on. */
export interface LocalService extends Service {
  /** The embedded Cognito-shaped issuer the service trusts. */
  readonly localIssuer: LocalIssuer;
  /** The embedded DynamoDB's endpoint, when it runs (not when DYNAMODB_ENDPOINT names another). */
  readonly localDynamoEndpoint: string | undefined;
}

/** A LocalService, as a service built by either entry of `npm start` may be. */
export function isLocalService(service: Service): service is LocalService {
  return 'localIssuer' in service;
}

/** Pretty lines in a terminal (LOG_FORMAT=pretty, or a TTY), else the service's JSON. pino-pretty is a dev dependency. */
function createLocalLogger(config: Config, telemetry: Telemetry): Logger {
  const pretty = { target: 'pino-pretty', options: { colorize: true } };
  return createLogger(config, telemetry, config.prettyLogs ? pretty : undefined);
}

/**
 * Local mode: an embedded issuer shaped like a Cognito user pool (oidc-provider) and an embedded DynamoDB
 * (dynalite), then the very service that runs in AWS, configured to trust that issuer and use that store. Only this
 * module knows the embedded parts; the production image does not carry their packages.
 */
export async function createLocalService(config: Config, options: ServiceOptions = {}): Promise<LocalService> {
  const local = config.local;
  if (!local) throw new TypeError('createLocalService needs a local-mode configuration');
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close();
  };
  try {
    const localIssuer = await startLocalIssuer({
      port: local.issuerPort,
      userPoolId: local.userPoolId,
      clients: [{ id: local.clientId, secret: local.clientSecret, scopes: productScopes }],
      scopes: productScopes,
      // The docs page (served from the service's own origin) asks the issuer for tokens from the browser.
      corsOrigins: config.corsOrigins,
      users: local.users,
      webClient: { id: localWebClientId, redirectUris: localRedirectUris(config) },
    });
    closers.push(localIssuer.close);
    const issuerBaseUrl = localIssuer.issuer.slice(0, -local.userPoolId.length - 1);

    // The embedded dynalite, or the DYNAMODB_ENDPOINT of a local stand-in (DynamoDB Local): any credentials do.
    let endpoint = config.products.dynamodbEndpoint;
    let localDynamoEndpoint: string | undefined;
    if (endpoint === undefined) {
      const dynamo = await startLocalDynamo({
        products: config.products.table,
        snapshots: config.products.snapshotsTable,
      });
      closers.push(dynamo.close);
      localDynamoEndpoint = endpoint = dynamo.endpoint;
    }
    const dynamo = new DynamoDBClient({ ...localClientConfig(endpoint), ...storeClientLevers(config.products) });
    closers.push(() => {
      dynamo.destroy();
      return Promise.resolve();
    });

    const trusting: Config = {
      ...config,
      tokenUrl: localIssuer.tokenUrl,
      auth: {
        ...config.auth,
        issuers: [
          cognito({ userPoolId: local.userPoolId, issuerBaseUrl, clientIds: [local.clientId, localWebClientId] }),
        ],
      },
    };
    const telemetry = options.telemetry ?? (await loadTelemetry(config));
    const service = await createService(trusting, {
      ...options,
      telemetry,
      logger: options.logger ?? createLocalLogger(config, telemetry),
      dynamo,
    });
    return {
      ...service,
      localIssuer,
      localDynamoEndpoint,
      async close() {
        await service.close();
        await closeAll();
      },
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
