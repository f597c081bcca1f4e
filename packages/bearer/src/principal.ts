import type { JWTPayload } from 'jose';
import type { RefusalReason } from './refusals.js';

/** Cognito's two token kinds; only `token_use` tells them apart. */
export type TokenUse = 'access' | 'id';

/** Who a verified token speaks for, the same shape whatever the issuer: each issuer profile maps its claims to it. */
export interface Principal {
  readonly subject: string;
  readonly clientId: string | undefined;
  readonly scopes: readonly string[];
  readonly groups: readonly string[];
  /**
   * A person's username; none for a machine client. Only this tells them apart: a group rule's
   * `orMachinesWithScopes` admits a token without one, and step-up's `peopleOnly` asks only a token with one.
   */
  readonly username: string | undefined;
  /** The configured issuer the token came from (its primary `iss`, also for an alternate form). */
  readonly issuer: string;
  /** Cognito's `token_use`; `undefined` for other issuers. */
  readonly tokenUse: TokenUse | undefined;
  /** `exp`, in seconds since the epoch. */
  readonly expiresAt: number;
  /** Every claim of the verified token. */
  readonly claims: Readonly<JWTPayload>;
}

/** What a claims mapper reads from a token; the verifier adds `issuer`, `expiresAt` and `claims`. */
export interface PrincipalClaims {
  /** Must be a non-empty string, or the token is refused as `claims_invalid`. */
  readonly subject: string;
  readonly clientId?: string | undefined;
  readonly scopes?: readonly string[];
  readonly groups?: readonly string[];
  readonly username?: string | undefined;
  readonly tokenUse?: TokenUse | undefined;
}

/**
 * Maps a verified token's claims (signature, issuer, audience, times and required claims already checked) to a
 * principal, or refuses the token with a reason (`claims_invalid` for a claim of the wrong shape, say).
 */
export type ClaimsMapper = (claims: Readonly<JWTPayload>) => PrincipalClaims | RefusalReason;

/** Where a mapper finds each part of the principal; `undefined` leaves it empty. */
export interface ClaimNames {
  readonly clientId: readonly string[];
  readonly groups: string | undefined;
  readonly username: readonly string[];
}

/**
 * The common mapping: `sub`; the first present of the client id and username claims; `scope` as a space-separated
 * string (RFC 8693 §4.2, RFC 9068 §2.2.3); groups as an array of strings. A claim of the wrong type refuses the token:
 * a username decides whether a person's rules apply, so a malformed one is refused rather than ignored.
 */
export function mapStandardClaims(claims: Readonly<JWTPayload>, names: ClaimNames): PrincipalClaims | RefusalReason {
  const { sub, scope } = claims;
  if (typeof sub !== 'string' || sub.length === 0) return 'claims_invalid';
  if (scope !== undefined && typeof scope !== 'string') return 'claims_invalid';
  const clientId = firstString(claims, names.clientId);
  const username = firstString(claims, names.username);
  if (clientId === null || username === null) return 'claims_invalid';
  const groups = names.groups === undefined ? undefined : claims[names.groups];
  if (groups !== undefined && !(Array.isArray(groups) && groups.every((g) => typeof g === 'string'))) {
    return 'claims_invalid';
  }
  return {
    subject: sub,
    clientId,
    scopes: typeof scope === 'string' ? scope.split(' ').filter((s) => s.length > 0) : [],
    groups: groups ?? [],
    username,
  };
}

/**
 * A claims mapper for an issuer whose tokens differ from a profile's only in where the client id, the groups and a
 * person's name are: `standardClaims({ groups: 'cognito:groups', username: ['username'] })`. Checked as the profiles'
 * own mappings are (`mapStandardClaims`).
 */
export function standardClaims(names: Partial<ClaimNames>): ClaimsMapper {
  const all: ClaimNames = { clientId: names.clientId ?? [], groups: names.groups, username: names.username ?? [] };
  return (claims) => mapStandardClaims(claims, all);
}

/** The first of `names` present in `claims`: its value if a string, `null` if not; `undefined` if none is present. */
function firstString(claims: Readonly<JWTPayload>, names: readonly string[]): string | undefined | null {
  for (const name of names) {
    const value = claims[name];
    if (value !== undefined) return typeof value === 'string' ? value : null;
  }
  return undefined;
}
