/**
 * Every way a products call can end other than with its result, in the domain's words. The routes give each its
 * answer in one table (`outcomeAnswers` in routes.ts); nothing here knows of HTTP.
 */
export const productOutcomes = [
  'not_found',
  'gone',
  /** The product changed since the version the caller's precondition names. */
  'stale_etag',
  /** The product changed so often that the change could not be applied within the request's deadline. */
  'conflict_exhausted',
  /** A patch's `test` operation did not hold (RFC 6902 §4.6). */
  'patch_test_failed',
  'invalid_patch',
  /** The product a patch would make is not a valid product. */
  'invalid_product',
  /** An idempotency key used again for a different request. */
  'idempotency_mismatch',
  /** The store cannot answer now (throttling, its 5xx, a timeout, no credentials) or the deadline passed. */
  'store_unavailable',
  /** The store refused what it was given (DynamoDB's `ValidationException`). */
  'unstorable',
] as const;

export type ProductOutcome = (typeof productOutcomes)[number];

/**
 * A products call that did not end with its result. Thrown rather than returned: the store's failures surface from
 * inside the SDK's middleware and at any await of any call, and a union return on every method would make each
 * caller restate the same checks; a thrown error with a closed `code`, as jose's errors, reaches the one place that
 * maps it and cannot be forgotten on the way.
 */
export class ProductError extends Error {
  constructor(
    readonly code: ProductOutcome,
    /** Safe to show to whoever asked. */
    description: string,
    /** What is wrong, by JSON Pointer into what was given. */
    readonly errors?: Readonly<Record<string, readonly string[]>>,
    options: { cause?: unknown } = {},
  ) {
    super(description, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'ProductError';
  }
}
