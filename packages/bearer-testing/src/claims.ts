import { randomUUID } from 'node:crypto';
import type { JWTPayload } from 'jose';

/** Claims for a minted token: any claim, registered or not; `undefined` leaves a default claim out. */
export type ClaimOverrides = Readonly<Record<string, unknown>>;

/** The app client and resource that minted tokens name unless told otherwise. */
export const testClientId = 'test-client';
export const testAudience = 'https://api.example.test';
const testScope = 'products/read products/write';

/**
 * A Cognito access token's claims, as a client_credentials grant has them (a machine: no `username`, no
 * `cognito:groups`; add both for a person's token). `nowMs` dates `iat`, `auth_time` and `exp` (an hour later).
 */
export function cognitoAccessClaims(issuer: string, overrides: ClaimOverrides = {}, nowMs = Date.now()): JWTPayload {
  const now = Math.floor(nowMs / 1000);
  return defined({
    sub: testClientId,
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

/** A Cognito ID token's claims: the app client in `aud`, the person in `cognito:username`. */
export function cognitoIdClaims(issuer: string, overrides: ClaimOverrides = {}, nowMs = Date.now()): JWTPayload {
  const now = Math.floor(nowMs / 1000);
  return defined({
    sub: 'test-user',
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
