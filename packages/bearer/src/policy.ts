import { pathToRegexp } from 'path-to-regexp';

/**
 * What a route needs. `public`: nothing, the token is not even read. `optional`: a request without credentials is
 * admitted anonymously, but credentials that are sent must be good. `authenticated`: a valid token, with the scopes
 * and groups named (scopes as the issuer grants them: Cognito resource-server scopes, OAuth `scope`).
 */
export type Access =
  | { readonly kind: 'public' }
  | { readonly kind: 'optional' }
  | {
      readonly kind: 'authenticated';
      readonly scopes?: { readonly allOf: readonly string[] } | { readonly anyOf: readonly string[] };
      /** Groups (the principal's, as its issuer profile maps them), any of which admits the token. */
      readonly groups?: readonly string[];
      /**
       * Groups any of which a person (a token with a username) must be in; a machine client (client_credentials,
       * no username) is not asked. So people need a role where machines need only their scope.
       */
      readonly groupsForPeople?: readonly string[];
    };

export type PolicyMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS' | '*';

export interface PolicyRule {
  readonly method: PolicyMethod;
  /** A path pattern in @koa/router's syntax (`/products/:id`), matched the same way (case-insensitive, optional trailing slash). */
  readonly path: string;
  readonly access: Access;
}

export interface RoutePolicy {
  /** The access a request needs. A request that no rule names needs a valid token: closed by default. */
  accessFor(method: string, path: string): Access;
  readonly rules: readonly PolicyRule[];
}

/** No authentication: the token is not read. */
export const publicAccess: Access = Object.freeze({ kind: 'public' });
/** Any valid token. What a request that no rule names needs. */
export const authenticatedAccess: Access = Object.freeze({ kind: 'authenticated' });
/** Anonymous callers admitted (no principal); a token that is sent must be valid, or the request is refused. */
export const optionalAccess: Access = Object.freeze({ kind: 'optional' });

/** A valid token granting every one of `allOf`. */
export function requireScopes(...allOf: string[]): Access {
  return { kind: 'authenticated', scopes: { allOf } };
}

/** A valid token granting at least one of `anyOf`. */
export function requireAnyScope(...anyOf: string[]): Access {
  return { kind: 'authenticated', scopes: { anyOf } };
}

const none: readonly string[] = Object.freeze([]);

/**
 * A path policy, closed by default: the first rule whose method and path match gives the access; a request no rule
 * names needs a valid token.
 */
export function createRoutePolicy(rules: readonly PolicyRule[]): RoutePolicy {
  // Only whether a rule matches matters here, not its parameters: a bare regular expression test per rule.
  const compiled = rules.map((rule) => ({ rule, pattern: pathToRegexp(rule.path).regexp }));
  return {
    rules,
    accessFor(method, path) {
      // HEAD is a GET without a body (RFC 9110 §9.3.2), so it needs what GET needs.
      const effective = method === 'HEAD' ? 'GET' : method;
      for (const { rule, pattern } of compiled) {
        if ((rule.method === '*' || rule.method === effective) && pattern.test(path)) return rule.access;
      }
      return authenticatedAccess;
    },
  };
}

/** The scopes a token lacks for `access`, or an empty list when it has enough. */
export function missingScopes(access: Access, granted: readonly string[]): readonly string[] {
  if (access.kind !== 'authenticated' || !access.scopes) return none;
  if ('allOf' in access.scopes) {
    const { allOf } = access.scopes;
    // Every admitted request comes here: a list is built only when a scope is missing.
    return allOf.every((scope) => granted.includes(scope)) ? none : allOf.filter((scope) => !granted.includes(scope));
  }
  return access.scopes.anyOf.some((scope) => granted.includes(scope)) ? none : access.scopes.anyOf;
}

/** The groups one of which the token would need for `access`, or an empty list when it is in one (or needs none). */
export function missingGroups(
  access: Access,
  who: { readonly groups: readonly string[]; readonly username: string | undefined },
): readonly string[] {
  if (access.kind !== 'authenticated') return none;
  const forAll = access.groups ?? none;
  const forPeople = who.username === undefined ? none : (access.groupsForPeople ?? none);
  // Every admitted request comes here: nothing is built unless a group is asked for.
  if (forAll.length === 0 && forPeople.length === 0) return none;
  const needed = [...forAll, ...forPeople];
  return needed.some((group) => who.groups.includes(group)) ? none : needed;
}

/** `access`, and for a person also membership of one of `groups` (machine clients keep `access` as it is). */
export function forPeopleInGroups(access: Access, ...groups: string[]): Access {
  return access.kind === 'authenticated' ? { ...access, groupsForPeople: groups } : access;
}
