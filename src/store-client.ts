import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { Config } from './config.js';

/**
 * How long the SDK may spend on one DynamoDB call. Without a timeout it waits for a silent store forever; each attempt
 * gets this long, and the SDK only warns about a request past requestTimeout unless told to throw. The request's
 * deadline bounds all attempts together.
 */
export function dynamoCallBounds(products: Config['products']) {
  return {
    maxAttempts: products.dynamodbMaxAttempts,
    requestHandler: {
      connectionTimeout: Math.min(1_000, products.dynamodbTimeoutMs),
      requestTimeout: products.dynamodbTimeoutMs,
      throwOnRequestTimeout: true,
    },
  } as const;
}

/**
 * The service's DynamoDB client settings: the region, the endpoint and the bounds above. No SDK lever is adopted yet:
 * `bench/store-client-levers.ts` measures each alone (docs/benchmarks.md), and the one that paid, `cacheMiddleware`,
 * is refused by lib-dynamodb's document client, which the repository wraps around this client.
 */
export function storeClientConfig(products: Config['products']): DynamoDBClientConfig {
  return {
    ...(products.region ? { region: products.region } : {}),
    ...(products.dynamodbEndpoint ? { endpoint: products.dynamodbEndpoint } : {}),
    ...dynamoCallBounds(products),
  };
}
