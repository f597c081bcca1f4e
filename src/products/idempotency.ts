import { createHash, randomBytes } from 'node:crypto';
import type { IdempotencyRecord, StoredProduct } from './repository.js';
import type { ProductFields } from './schema.js';

// Idempotency keys (draft-ietf-httpapi-idempotency-key-header): a repeat of a keyed create returns the first result.

export function randomId(): string {
  return randomBytes(16).toString('base64url');
}

/** Canonical JSON: the same fields in any order give the same digest. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** What a keyed create remembers of its request: the digest of its fields, and until when (epoch seconds) it counts. */
export function recordFor(fields: ProductFields, at: Date, keySeconds: number): IdempotencyRecord {
  return {
    request: createHash('sha256').update(canonical(fields)).digest('base64url'),
    expiresAt: Math.floor(at.getTime() / 1000) + keySeconds,
  };
}

/**
 * The product a keyed create makes has an id derived from the caller and the key, so that the key is stored in the
 * same single-item conditional write as the product: no separate key table, no "in progress" state to strand.
 */
export function idForKey(caller: string, key: string): string {
  return createHash('sha256').update(`${caller}\n${key}`).digest().subarray(0, 16).toString('base64url');
}

/**
 * What an existing item means to a create that found its id taken: `expired`, a key honoured no longer (so this is a
 * new request); `mismatch`, the key used for another request; `same`, this request again, or our own earlier
 * attempt (the SDK retried a write that had landed), either way the stored product is the answer.
 */
export function keyedMatch(
  stored: StoredProduct,
  record: IdempotencyRecord | undefined,
  now: Date,
): 'expired' | 'mismatch' | 'same' {
  const kept = stored.idempotency;
  if (kept && kept.expiresAt * 1000 <= now.getTime()) return 'expired';
  if (kept && kept.request !== record?.request) return 'mismatch';
  return 'same';
}
