import { createHmac, timingSafeEqual } from 'node:crypto';
import type { PageKey } from './repository.js';

export interface CursorCodec {
  /** An opaque cursor for continuing `scope` (e.g. the list, or one product's history) after `key`. */
  encode(scope: string, key: PageKey): string;
  /** The key, or undefined when the cursor was not made by us for exactly this scope. */
  decode(scope: string, cursor: string): PageKey | undefined;
}

/**
 * Cursors are signed with HMAC-SHA256 and bound to the query they continue, so a client can neither forge a start
 * key nor move a cursor to another query. Instances that share a secret accept each other's cursors.
 */
export function createCursorCodec(secret: Uint8Array): CursorCodec {
  const sign = (scope: string, body: string) => createHmac('sha256', secret).update(`${scope}\n${body}`).digest();
  return {
    encode(scope, key) {
      const body = Buffer.from(JSON.stringify(key)).toString('base64url');
      return `${body}.${sign(scope, body).toString('base64url')}`;
    },
    decode(scope, cursor) {
      const [body, mac, extra] = cursor.split('.');
      if (!body || !mac || extra !== undefined || cursor.length > 2048) return undefined;
      const expected = sign(scope, body);
      const given = Buffer.from(mac, 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
      try {
        const key: unknown = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
        if (typeof key !== 'object' || key === null || Array.isArray(key)) return undefined;
        return key as PageKey;
      } catch {
        return undefined;
      }
    },
  };
}
