import type { JWTPayload } from 'jose';
import { pathToRegexp } from 'path-to-regexp';

/**
 * What a route needs. `public`: nothing, the token is not even read. `optional`: a request without credentials is
 * admitted anonymously, but credentials that are sent must be good. `authenticated`: a valid token, with the scopes
 * and the group rule named (scopes as the issuer grants them: Cognito resource-server scopes, OAuth `scope`).
 */
export type Access =
  | { readonly kind: 'public' }
  | { readonly kind: 'optional' }
  | {
      readonly kind: 'authenticated';
      readonly scopes?: { readonly allOf: readonly string[] } | { readonly anyOf: readonly string[] };
      /** Who passes besides the scopes: see `GroupRule`, and `requireGroups` to make one. */
      readonly groups?: GroupRule;
      /** How recent and how strong the sign-in behind the token must be (RFC 9470); see `stepUp`. */
      readonly stepUp?: StepUp;
      /** Checks on the token's claims, every one of which must hold: see `claimEquals`, `claimIncludes`, `claimCheck`. */
      readonly claims?: readonly ClaimRule[];
    };

/**
 * A check on a verified token's claims. A token that fails one is refused 401 `invalid_token`, as
 * express-oauth2-jwt-bearer's claim checks refuse it: the token is not one this route accepts, like a token for another
 * audience, and no scope the client could ask for would mend it (which 403 `insufficient_scope` would promise).
 */
export interface ClaimRule {
  /** Said in the refusal's `error_description`; it comes from the rule, never from the token. */
  readonly description: string;
  /** True when the claims pass. A check that throws is a check that fails: the token is refused, not the server. */
  readonly test: (claims: Readonly<JWTPayload>) => boolean;
}

/** The values `claimEquals` and `claimIncludes` compare, as express-oauth2-jwt-bearer's `JSONPrimitive`. */
export type JsonPrimitive = string | number | boolean | null;

/**
 * A group rule: the caller must be in one of `anyOf` (the principal's groups, as its issuer profile maps them). A
 * machine client has no groups, so it is refused like anyone else outside them, unless the rule itself names another
 * way in. Every way around the groups is written in the rule, so that reading it says who passes.
 */
export interface GroupRule {
  readonly anyOf: readonly string[];
  /** Another way in, for anyone, person or machine: a token granting every one of these scopes. */
  readonly orScopes?: readonly string[];
  /**
   * Another way in, for a machine client only (a token without a username: Cognito's client_credentials): granting
   * every one of these scopes. A person with these scopes still needs the group.
   */
  readonly orMachinesWithScopes?: readonly string[];
}

/** The ways around a group rule's groups that `requireGroups` takes; none unless named. */
export type GroupAlternatives = Omit<GroupRule, 'anyOf'>;

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

/**
 * A valid token whose principal is in one of `groups`, as aws-jwt-verify's `groups` option has it ("one of these
 * groups must match"). Nobody else passes, machine clients included (they have no groups), unless `alternatives`
 * names another way in: `requireGroups('catalog-admins', { orScopes: ['products/admin'] })` also admits any token
 * granting `products/admin`; `{ orMachinesWithScopes: ['products/write'] }` also admits a machine client (no
 * username) granting `products/write`. Checked here, at construction, so that a rule cannot be vacuous.
 */
export function requireGroups(groups: string | readonly string[], alternatives: GroupAlternatives = {}): Access {
  const anyOf = typeof groups === 'string' ? [groups] : [...groups];
  if (anyOf.length === 0 || !anyOf.every(isName)) throw new TypeError('requireGroups: name at least one group');
  const unknown = Object.keys(alternatives).filter((name) => !alternativeNames.includes(name));
  if (unknown.length > 0) {
    // A misspelt way in (`orScope`) would leave the rule stricter than meant, or a JavaScript caller's old option
    // unread: neither is silent.
    throw new TypeError(
      `requireGroups: unknown option ${unknown.join(', ')}; the ways in are ${alternativeNames.join(', ')}`,
    );
  }
  const { orScopes, orMachinesWithScopes } = alternatives;
  const rule: GroupRule = {
    anyOf: Object.freeze(anyOf),
    ...(orScopes === undefined ? {} : { orScopes: scopeList('orScopes', orScopes) }),
    ...(orMachinesWithScopes === undefined
      ? {}
      : { orMachinesWithScopes: scopeList('orMachinesWithScopes', orMachinesWithScopes) }),
  };
  return Object.freeze({ kind: 'authenticated', groups: Object.freeze(rule) });
}

const alternativeNames: readonly string[] = ['orScopes', 'orMachinesWithScopes'] satisfies (keyof GroupAlternatives)[];
const isName = (value: unknown): boolean => typeof value === 'string' && value.length > 0;

/** A way in's scopes, frozen. An empty list would be granted by every token: a way in for all, never meant. */
function scopeList(name: string, scopes: readonly string[]): readonly string[] {
  if (scopes.length === 0 || !scopes.every(isName)) throw new TypeError(`requireGroups: ${name} must name scopes`);
  return Object.freeze([...scopes]);
}

/**
 * A valid token whose claim `claim` is `value` (strict equality, so `'1'` is not `1`), as express-oauth2-jwt-bearer's
 * `claimEquals`: `claimEquals('org_id', 'org_42')`. 401 `invalid_token` otherwise (see `ClaimRule`).
 */
export function claimEquals(claim: string, value: JsonPrimitive): Access {
  claimName('claimEquals', claim);
  primitive('claimEquals', value);
  return claimRule(`unexpected '${claim}' value`, (claims) => Object.hasOwn(claims, claim) && claims[claim] === value);
}

/**
 * A valid token whose claim `claim` holds every one of `values`, as express-oauth2-jwt-bearer's `claimIncludes`: the
 * claim is an array, or a space-separated string (`scope`, RFC 8693 §4.2): `claimIncludes('amr', 'mfa')`. 401
 * `invalid_token` otherwise (see `ClaimRule`).
 */
export function claimIncludes(claim: string, ...values: JsonPrimitive[]): Access {
  claimName('claimIncludes', claim);
  if (values.length === 0) throw new TypeError('claimIncludes: name at least one value');
  for (const value of values) primitive('claimIncludes', value);
  return claimRule(`unexpected '${claim}' value`, (claims) => {
    const held = Object.hasOwn(claims, claim) ? claims[claim] : undefined;
    const list: readonly unknown[] | undefined =
      typeof held === 'string' ? held.split(' ') : Array.isArray(held) ? held : undefined;
    return list !== undefined && values.every((value) => list.includes(value));
  });
}

/**
 * A valid token whose claims pass `check`, as express-oauth2-jwt-bearer's `claimCheck`:
 * `claimCheck((claims) => claims.tenant === 'acme', 'tenant acme only')`. 401 `invalid_token` otherwise, with
 * `description` (see `ClaimRule`).
 */
export function claimCheck(check: (claims: Readonly<JWTPayload>) => boolean, description?: string): Access {
  if (typeof check !== 'function') throw new TypeError('claimCheck: give a function of the claims');
  return claimRule(description ?? 'token claims not accepted', check);
}

// RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E. A description outside it would break the header.
const descriptionText = /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/;

function claimRule(description: string, test: ClaimRule['test']): Access {
  if (!descriptionText.test(description)) {
    throw new TypeError('claim rules: the claim name and description must be printable ASCII without " or \\');
  }
  return Object.freeze({ kind: 'authenticated', claims: Object.freeze([Object.freeze({ description, test })]) });
}

function claimName(rule: string, claim: unknown): void {
  if (!isName(claim)) throw new TypeError(`${rule}: name the claim`);
}

/** A claim compared with an object would compare references, never true for a token's own: refused when built. */
function primitive(rule: string, value: unknown): void {
  const type = typeof value;
  if (!(value === null || type === 'string' || type === 'number' || type === 'boolean')) {
    throw new TypeError(`${rule}: a value must be a string, number, boolean or null`);
  }
}

/**
 * Every one of `rules` at once: `allOf(requireScopes('products/write'), requireGroups('catalog-admins'))` needs the
 * scope and the group. Scopes that are all-of lists are joined; a group rule and a step-up rule may each come from one
 * rule only, since two would be ambiguous (name every group in one `requireGroups`). Claim checks from every rule all
 * apply.
 */
export function allOf(...rules: readonly Access[]): Access {
  const scopes = new Set<string>();
  let anyOfScopes: { readonly anyOf: readonly string[] } | undefined;
  let groups: GroupRule | undefined;
  let stepUpRule: StepUp | undefined;
  const claims: ClaimRule[] = [];
  let scoped = 0;
  for (const rule of rules) {
    if (rule.kind !== 'authenticated') throw new TypeError('allOf: only authenticated access rules can be combined');
    if (rule.scopes) {
      scoped += 1;
      if ('allOf' in rule.scopes) for (const scope of rule.scopes.allOf) scopes.add(scope);
      else anyOfScopes = rule.scopes;
    }
    if (rule.groups) {
      if (groups) throw new TypeError('allOf: one group rule at most; name every group in one requireGroups');
      groups = rule.groups;
    }
    if (rule.stepUp) {
      if (stepUpRule) throw new TypeError('allOf: one step-up rule at most');
      stepUpRule = rule.stepUp;
    }
    if (rule.claims) claims.push(...rule.claims);
  }
  if (anyOfScopes && scoped > 1) throw new TypeError('allOf: requireAnyScope cannot be combined with other scopes');
  return Object.freeze({
    kind: 'authenticated',
    ...(anyOfScopes
      ? { scopes: anyOfScopes }
      : scopes.size > 0
        ? { scopes: { allOf: Object.freeze([...scopes]) } }
        : {}),
    ...(groups ? { groups } : {}),
    ...(stepUpRule ? { stepUp: stepUpRule } : {}),
    ...(claims.length > 0 ? { claims: Object.freeze(claims) } : {}),
  });
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
    const needed = access.scopes.allOf;
    // Every admitted request comes here: a list is built only when a scope is missing.
    return needed.every((scope) => granted.includes(scope)) ? none : needed.filter((scope) => !granted.includes(scope));
  }
  return access.scopes.anyOf.some((scope) => granted.includes(scope)) ? none : access.scopes.anyOf;
}

/**
 * The group rule `who` does not pass, or `undefined` when it passes (or `access` has none). Fails closed: a rule
 * written by hand without a list (`groups: ['admins']` in JavaScript) or with an empty way in admits no one through it.
 */
export function unmetGroupRule(
  access: Access,
  who: {
    readonly groups: readonly string[];
    readonly scopes: readonly string[];
    readonly username: string | undefined;
  },
): GroupRule | undefined {
  if (access.kind !== 'authenticated' || access.groups === undefined) return undefined;
  const rule = access.groups;
  if (isList(rule.anyOf) && rule.anyOf.some((group) => who.groups.includes(group))) return undefined;
  if (grantsEvery(who.scopes, rule.orScopes)) return undefined;
  if (who.username === undefined && grantsEvery(who.scopes, rule.orMachinesWithScopes)) return undefined;
  return rule;
}

function grantsEvery(granted: readonly string[], needed: readonly string[] | undefined): boolean {
  return isList(needed) && needed.length > 0 && needed.every((scope) => granted.includes(scope));
}

/** A list, as the types promise; a rule written by hand may break the promise, and then lets no one through. */
function isList(value: unknown): value is readonly string[] {
  return Array.isArray(value);
}

/**
 * The first claim rule of `access` that `claims` fail, or `undefined` when they pass every one (or `access` has none).
 * Fails closed: a check that throws (reading a member of a claim the token lacks, say) is a check that fails.
 */
export function unmetClaimRule(access: Access, claims: Readonly<JWTPayload>): ClaimRule | undefined {
  if (access.kind !== 'authenticated' || access.claims === undefined) return undefined;
  for (const rule of access.claims) {
    let passed: boolean;
    try {
      // Typed boolean, but a JavaScript check may return anything: only `true` passes (a promise is truthy).
      const result: unknown = rule.test(claims);
      passed = result === true;
    } catch {
      passed = false;
    }
    if (!passed) return rule;
  }
  return undefined;
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
