import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ProductError } from '../outcomes.js';
import type { Signal } from './contract.js';

/** What every part of the store shares: the document client, the table names and the clock. */
export interface StoreContext {
  readonly documents: DynamoDBDocumentClient;
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

/** The document client every store module uses, its failures told in domain terms. */
export function createDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  const documents = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  // Outermost step, so it sees what is left after the SDK's own retries.
  documents.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        throw storeFailure(error);
      }
    },
    { step: 'initialize', name: 'storeErrors', override: true },
  );
  return documents;
}

/** Every call takes the request's abort signal: once its deadline for store work passes, the call stops. */
export const callOptions = (signal: Signal): { abortSignal?: AbortSignal } => (signal ? { abortSignal: signal } : {});
