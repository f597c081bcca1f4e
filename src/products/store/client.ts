import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { ProductError } from '../outcomes.js';
import type { Signal } from './contract.js';

/** What every part of the store shares: the low-level client, the table names and the clock. */
export interface StoreContext {
  readonly client: DynamoDBClient;
  readonly productsTable: string;
  readonly snapshotsTable: string;
  readonly now: () => Date;
}

const networkErrors = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
const transientErrors = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TimeoutError',
  // The request's deadline for store work passed (our AbortSignal): the SDK stops retrying at once.
  'AbortError',
  // No credentials could be had (the task role's endpoint did not answer, say): the store cannot be asked now.
  'CredentialsProviderError',
]);

/** DynamoDB's own HTTP answers from this code on are its failures (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html). */
const storeServerErrors = 500; // status-scan: DynamoDB's own answer, not one of ours

/** Whether an error from the SDK means "not now" rather than "never": the caller may retry the same request. */
function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { $metadata, $retryable, code } = error as {
    $metadata?: { httpStatusCode?: number };
    $retryable?: unknown;
    code?: unknown;
  };
  return (
    transientErrors.has(error.name) ||
    $retryable !== undefined ||
    ($metadata?.httpStatusCode ?? 0) >= storeServerErrors ||
    (typeof code === 'string' && networkErrors.has(code))
  );
}

/**
 * What is left of an SDK error after the SDK's own retries, in the domain's words: `store_unavailable` for "not now"
 * (after the SDK's retries, or once the request's deadline for store work passed), `unstorable` for what the store
 * refused (`ValidationException`: a number out of its range, an item too large; input we validated should never get
 * there, so it is the request that cannot be stored, not a bug of ours); anything else as it is.
 */
export function storeFailure(error: unknown): unknown {
  if (isUnavailable(error)) {
    return new ProductError('store_unavailable', 'the product store is not available now; try again', undefined, {
      cause: error,
    });
  }
  if (error instanceof Error && error.name === 'ValidationException') {
    return new ProductError('unstorable', 'the product cannot be stored as given', undefined, { cause: error });
  }
  return error;
}

/**
 * Every store call goes through here, sent without per-call options: the SDK reuses a command's resolved middleware
 * stack (`cacheMiddleware`, src/store-client.ts) only for calls sent without options, so the request's deadline is
 * not handed to the SDK as an `abortSignal`. It is raced beside the call instead: once the deadline passes, the
 * caller gets `store_unavailable` at once, and work the deadline already ended starts no further call. What the SDK
 * still does for an abandoned call is bounded by its per-attempt `requestTimeout` × `maxAttempts`.
 */
export async function call<T>(signal: Signal, send: () => Promise<T>): Promise<T> {
  try {
    if (signal?.aborted) throw signal.reason;
    const sent = send();
    return await (signal ? untilAborted(sent, signal) : sent);
  } catch (error) {
    throw storeFailure(error);
  }
}

function untilAborted<T>(sent: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', abort, { once: true });
    // An answer after the abort settles nothing: the race is already lost, and its rejection is handled here.
    sent.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

/** Items as the store keeps them: `undefined` left out, as the document client did with removeUndefinedValues. */
export const toItem = (value: object): Record<string, AttributeValue> =>
  marshall(value, { removeUndefinedValues: true });

export const fromItem = (item: Record<string, AttributeValue>): Record<string, unknown> => unmarshall(item);

/** A result's items, or none. */
export const fromItems = (items: Record<string, AttributeValue>[] | undefined): Record<string, unknown>[] =>
  (items ?? []).map(fromItem);
