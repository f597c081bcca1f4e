import { createHash, randomUUID } from 'node:crypto';
import type { JWTPayload } from 'jose';

/** Claims for a minted token: any claim, registered or not; `undefined` leaves a default claim out. */
export type ClaimOverrides = Readonly<Record<string, unknown>>;

/** The app client and resource that minted tokens name unless told otherwise. */
export const testClientId = 'test-client';
export const testAudience = 'https://api.example.test';
const testScope = 'products/read products/write';

// The kit's own namespace for name-based UUIDs (RFC 9562 §5.5): any fixed UUID would do, this one is the kit's.
const personNamespace = '5d0c8a4e-3b7f-4c1e-9a2d-6f8b1c3e5a70';

/** A version 5 (name-based, SHA-1) UUID of `name` in `namespace` (RFC 9562 §5.5). */
export function nameBasedUuid(namespace: string, name: string): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replaceAll('-', ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50; // version 5
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80; // the RFC 9562 variant
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The `sub` of a person's minted tokens: a UUID, as Cognito gives every user one, derived from the username (a
 * version 5, name-based UUID, RFC 9562 §5.5), so that it is the same in every token and every run, and never the
 * client's id. A test compares a principal's subject with `personSubject('ada')`.
 */
export function personSubject(username: string): string {
  return nameBasedUuid(personNamespace, username);
}

/**
 * Who a Cognito access token is about, as Cognito has it: a person's own id when it names a `username`, else the
 * client's (a client_credentials token's `sub` is its client id).
 */
function subjectOf(overrides: ClaimOverrides): string {
  const { username, client_id: clientId } = overrides;
  if (typeof username === 'string') return personSubject(username);
  return typeof clientId === 'string' ? clientId : testClientId;
}

/**
 * A Cognito access token's claims, as a client_credentials grant has them (a machine: no `username`, no
 * `cognito:groups`, `sub` its client id). Add `username` (and `cognito:groups`) for a person's token: its `sub` is then
 * the person's own, `personSubject(username)`. `nowMs` dates `iat`, `auth_time` and `exp` (an hour later).
 */
export function cognitoAccessClaims(issuer: string, overrides: ClaimOverrides = {}, nowMs = Date.now()): JWTPayload {
  const now = Math.floor(nowMs / 1000);
  return defined({
    sub: subjectOf(overrides),
    token_use: 'access',
    scope: testScope,
    auth_time: now,
    iss: issuer,
    exp: now + 3600,
    iat: now,
    version: 2,
    jti: randomUUID(),
    client_id: testClientId,
    ...overrides,
  });
}

/**
 * A Cognito ID token's claims: the app client in `aud`, the person in `cognito:username` (`test-user` by default), and
 * `sub` the person's own, `personSubject` of that username.
 */
export function cognitoIdClaims(issuer: string, overrides: ClaimOverrides = {}, nowMs = Date.now()): JWTPayload {
  const now = Math.floor(nowMs / 1000);
  const username = overrides['cognito:username'];
  return defined({
    sub: personSubject(typeof username === 'string' ? username : 'test-user'),
    aud: testClientId,
    token_use: 'id',
    auth_time: now,
    iss: issuer,
    'cognito:username': 'test-user',
    exp: now + 3600,
    iat: now,
    jti: randomUUID(),
    ...overrides,
  });
}

/** An RFC 9068 JWT access token's claims: all of `iss exp aud sub client_id iat jti` (§2.2), and a scope. */
export function rfc9068Claims(issuer: string, overrides: ClaimOverrides = {}, nowMs = Date.now()): JWTPayload {
  const now = Math.floor(nowMs / 1000);
  return defined({
    iss: issuer,
    exp: now + 3600,
    aud: testAudience,
    sub: testClientId,
    client_id: testClientId,
    iat: now,
    jti: randomUUID(),
    scope: testScope,
    ...overrides,
  });
}

function defined(claims: Record<string, unknown>): JWTPayload {
  return Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined));
}
