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
      /** How recent and how strong the sign-in behind the token must be (RFC 9470); see `stepUp`. */
      readonly stepUp?: StepUp;
    };

/**
 * A step-up rule (RFC 9470 §3): the person's authentication behind the token must be at most `maxAgeSec` old
 * (`auth_time`) and/or of one of `acrValues` (`acr`). A token that falls short is refused 401
 * `insufficient_user_authentication` with `max_age` and `acr_values` saying what would do.
 */
export interface StepUp {
  /** Seconds since `auth_time` (RFC 9470 `max_age`); a token without a numeric `auth_time` does not meet it. */
  readonly maxAgeSec?: number;
  /** `acr` values any of which meets the rule, in order of preference (RFC 9470 `acr_values`). */
  readonly acrValues?: readonly string[];
  /**
   * Ask only people (a token with a username). A machine client (client_credentials) has no sign-in to step up and
   * no way to ask its issuer for one, so a challenge would refuse it forever; without this, it is asked too.
   */
  readonly peopleOnly?: boolean;
}

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

// RFC 9470 §3: acr_values is a space-separated list inside a quoted string, so a value can hold neither.
const acrValue = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * `access`, and also a recent and/or strong enough sign-in (RFC 9470): e.g.
 * `stepUp(requireScopes('items/delete'), { maxAgeSec: 300, peopleOnly: true })`. Checked after the scopes and
 * groups, so that nobody is asked to sign in again for a token that would still be refused.
 */
export function stepUp(access: Access, rule: StepUp): Access {
  if (access.kind !== 'authenticated') throw new TypeError('stepUp: only an authenticated access rule can ask for it');
  const { maxAgeSec, acrValues, peopleOnly } = rule;
  if (maxAgeSec === undefined && acrValues === undefined) throw new TypeError('stepUp: give maxAgeSec or acrValues');
  if (maxAgeSec !== undefined && !(Number.isSafeInteger(maxAgeSec) && maxAgeSec >= 0)) {
    throw new TypeError('stepUp: maxAgeSec must be a whole number of seconds (RFC 9470 §3)');
  }
  if (acrValues !== undefined && (acrValues.length === 0 || !acrValues.every((value) => acrValue.test(value)))) {
    throw new TypeError('stepUp: acrValues must be non-empty values without spaces, quotes or backslashes');
  }
  return Object.freeze({
    ...access,
    stepUp: Object.freeze({
      ...(maxAgeSec === undefined ? {} : { maxAgeSec }),
      ...(acrValues === undefined ? {} : { acrValues: Object.freeze([...acrValues]) }),
      ...(peopleOnly ? { peopleOnly } : {}),
    }),
  });
}

/**
 * The step-up rule `who` falls short of now (`now()`, epoch ms), or `undefined` when it meets it (or none applies). No clock
 * tolerance: `max_age` is the resource's own limit on the age of a sign-in, not a validity window.
 */
export function unmetStepUp(
  access: Access,
  who: { readonly username: string | undefined; readonly claims: Readonly<Record<string, unknown>> },
  now: () => number,
): StepUp | undefined {
  if (access.kind !== 'authenticated' || access.stepUp === undefined) return undefined;
  const rule = access.stepUp;
  if (rule.peopleOnly && who.username === undefined) return undefined;
  const authTime = who.claims['auth_time'];
  // The clock is read only for a rule with a maximum age: every admitted request passes here.
  if (
    rule.maxAgeSec !== undefined &&
    !(typeof authTime === 'number' && Math.floor(now() / 1000) - authTime <= rule.maxAgeSec)
  ) {
    return rule;
  }
  const acr = who.claims['acr'];
  if (rule.acrValues !== undefined && !(typeof acr === 'string' && rule.acrValues.includes(acr))) return rule;
  return undefined;
}

/** `access`, and for a person also membership of one of `groups` (machine clients keep `access` as it is). */
export function forPeopleInGroups(access: Access, ...groups: string[]): Access {
  return access.kind === 'authenticated' ? { ...access, groupsForPeople: groups } : access;
}
