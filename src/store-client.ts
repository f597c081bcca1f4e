import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { Config } from './config.js';

/**
 * How long the SDK may spend on one DynamoDB call. Without a timeout it waits for a silent store forever; each attempt
 * gets this long, and the SDK only warns about a request past requestTimeout unless told to throw. The request's
 * deadline ends the wait for all attempts together (store/client.ts races it beside the call); these bounds end the
 * SDK's own work on a call whose answer is no longer awaited.
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
 * The SDK levers the store path adopts, measured in `bench/store-client-levers.ts` (docs/benchmarks.md, section 5):
 * - `cacheMiddleware`: a command's middleware stack is resolved once per command class, not on every call
 *   (`SmithyConfiguration.cacheMiddleware` in @smithy/core's smithy-client/client.d.ts, SDK 3.1169.0: "0-1ms per
 *   request"). Its `send` uses the cache only for calls sent without options, so the store sends none (the deadline
 *   is raced beside the call, store/client.ts); lib-dynamodb's document client refuses it, so the store marshals with
 *   util-dynamodb around the low-level client.
 * The SDK's own keep-alive agent (50 sockets) is kept: an agent of ours measured the same. Each alone moved the CPU of a GetItem by a few per cent at most, and together they bring our client to about the
 * default client's cost, not below it: the SDK's floor (section 5 has the figures).
 */
export function storeClientLevers(products: Config['products']) {
  return { ...dynamoCallBounds(products), cacheMiddleware: true } as const;
}

/** The service's DynamoDB client settings: the region, the endpoint, the bounds and the levers above. */
export function storeClientConfig(products: Config['products']): DynamoDBClientConfig {
  return {
    ...(products.region ? { region: products.region } : {}),
    ...(products.dynamodbEndpoint ? { endpoint: products.dynamodbEndpoint } : {}),
    ...storeClientLevers(products),
  };
}
