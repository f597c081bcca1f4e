import { createLocalJWKSet, errors as joseErrors } from 'jose';
import type { CryptoKey, FlattenedJWSInput, JSONWebKeySet, JWSHeaderParameters } from 'jose';

/** A JWKS as a key set holds it: its text (to tell a new set from the same one), its kids, and jose's selection. */
export interface Held {
  readonly text: string;
  readonly kids: ReadonlySet<string>;
  /** jose's `createLocalJWKSet` over the set; typed by hand, so that no declaration names a value of jose's. */
  readonly resolve: (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;
  readonly fetchedAt: number;
}

export function toHeld(jwks: JSONWebKeySet, fetchedAt: number): Held {
  const kids = new Set(jwks.keys.map((key) => key.kid).filter((kid): kid is string => typeof kid === 'string'));
  return { text: JSON.stringify(jwks), kids, resolve: createLocalJWKSet(jwks), fetchedAt };
}

/** jose's selection in `set`; `undefined` when no key matches (any other failure of jose's is thrown). */
export async function resolveIn(
  set: Held,
  header: JWSHeaderParameters,
  token: FlattenedJWSInput,
): Promise<CryptoKey | undefined> {
  try {
    return await set.resolve(header, token);
  } catch (error) {
    if (error instanceof joseErrors.JWKSNoMatchingKey) return undefined;
    throw error;
  }
}

export function parseJwks(body: unknown): JSONWebKeySet {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { keys?: unknown }).keys)) {
    throw new Error('JWKS response is not a {"keys": [...]} object');
  }
  const keys = (body as { keys: unknown[] }).keys.filter(
    (key): key is JSONWebKeySet['keys'][number] => typeof key === 'object' && key !== null && !Array.isArray(key),
  );
  return { keys };
}
