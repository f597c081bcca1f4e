import { defaults } from './defaults.js';
import { createDpopCheck, refuseBoundBearer, type DpopCheck, type DpopOptions } from './dpop.js';
import {
  authenticatedAccess,
  missingScopes,
  unmetClaimRule,
  unmetGroupRule,
  type ClaimRule,
  unmetStepUp,
  type Access,
  type GroupRule,
  type RoutePolicy,
  type StepUp,
} from './policy.js';
import type { Principal } from './principal.js';
import { refusalResponse, Refused, type RefusalReason } from './refusals.js';
import { createVerifier, type IssuerState, type VerifierOptions, type VerifierStats } from './verifier.js';

/** What the authenticator needs of an HTTP request: any framework's request gives it without copying a body. */
export interface AuthRequest {
  readonly method: string;
  /** The path without the query string; matched against the route policy. */
  readonly path: string;
  /**
   * The path as the request line has it, without the query, where `path` is relative to a mount point (Express's
   * `req.path`): a DPoP proof's `htu` names the whole URI (RFC 9449 §4.3). `path` when absent.
   */
  readonly fullPath?: string | undefined;
  /** Header names in lower case, as Node's `IncomingMessage.headers` has them. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /**
   * Node's `rawHeaders` (name, value, name, value …): Node keeps only the first of repeated `Authorization` headers in
   * `headers`, so two credentials can be seen, and refused, only here.
   */
  readonly rawHeaders?: readonly string[];
  /** The query string, without `?`: a token there is refused (RFC 6750 §2.3). */
  readonly query?: string;
}

/** A refusal as an HTTP answer, plain data for any framework to write (RFC 6750 §3). */
export interface Refusal {
  /** Why: a closed set, for logs and counters. Never shown to the client beyond its code and description. */
  readonly reason: RefusalReason;
  readonly status: 400 | 401 | 403 | 503;
  /** `WWW-Authenticate` (not on 503), `Cache-Control: no-store`, and `Retry-After` on 503. */
  readonly headers: Readonly<Record<string, string>>;
  /** The JSON body. `error` is `unauthorized` when no credentials were sent (RFC 6750 §3.1 then names no code). */
  readonly body: { readonly error: string; readonly error_description: string };
}

/**
 * How a request ends: admitted, with the principal (`undefined` on a public route, or anonymous on an optional one)
 * and the access it was checked against; or refused, with the principal of a valid token that lacks a scope or group
 * (403), for the log.
 */
export type Outcome =
  | {
      readonly principal: Principal | undefined;
      readonly access: Access;
      /** The token the principal was verified from; absent when there is no principal. */
      readonly token?: string;
    }
  | { readonly refusal: Refusal; readonly principal?: Principal };

export interface AuthenticatorOptions extends VerifierOptions {
  /** Which access each request needs, by method and path; without one, every request needs a valid token. */
  readonly policy?: RoutePolicy;
  /** The protection space named in every challenge (RFC 6750 §3); `api` by default. */
  readonly realm?: string;
  /**
   * The URL of this resource's metadata (RFC 9728 §3.1, `protectedResourceMetadataUrl(resource)`), named as
   * `resource_metadata` in every challenge (§5.1), so that a client can find the issuers and scopes it needs.
   */
  readonly resourceMetadataUrl?: string;
  /**
   * Where else the token may come from (a cookie, say): a token it returns is checked as a header's would be. The
   * `Authorization` header is still read when it returns `undefined`, and a request with both is refused 400 (RFC 6750
   * §2: one method per request); a token in the query string is refused whatever it returns (§2.3).
   */
  readonly getToken?: (request: AuthRequest) => string | undefined;
  /**
   * DPoP (RFC 9449): on by default, in "allowed" mode: a token bound to a key (`cnf.jkt`) is admitted only under the
   * `DPoP` scheme with a valid proof, plain bearer tokens as before. `{ required: true }` refuses plain bearer tokens;
   * `false` turns the `DPoP` scheme off (a bound token is then refused, never downgraded to a bearer token).
   */
  readonly dpop?: DpopOptions | false;
}

export interface Authenticator {
  /**
   * Reads the bearer token, verifies it, checks the access the route needs, and answers: `{ principal }` or
   * `{ refusal }`. The access is `access` when given (a framework's per-route rule), else the policy's for the
   * request's method and path. Returns the outcome itself, not a promise, when no I/O was needed (a remembered token,
   * a refusal before any key, a key already selected): an adapter then answers without a promise.
   */
  authenticate(request: AuthRequest, access?: Access): Outcome | Promise<Outcome>;
  /** Fills every issuer's key set, so that the first request does not pay for the fetch. Rejects if one cannot be had. */
  warmUp(): Promise<void>;
  /** True when every issuer has a usable key set (a readiness probe). */
  ready(): boolean;
  /** Each issuer and its key set's status and counters. */
  readonly issuers: readonly IssuerState[];
  /** The verified-token cache's and the signature paths' counters. */
  readonly stats: Readonly<VerifierStats>;
}

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token, with b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
// RFC 9449 §7.1: the DPoP scheme takes the same token68 syntax.
const credentialsHeader = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** Which challenge carries a refusal's error code: the scheme the client used (RFC 9449 §7.1). */
type Scheme = 'Bearer' | 'DPoP';

/** The credentials of a request: a bearer token, or a DPoP-bound token and its proof. */
type Credentials =
  | { readonly scheme: 'Bearer'; readonly token: string }
  | { readonly scheme: 'DPoP'; readonly token: string; readonly proof: string };

/**
 * The framework-free core of bearer authentication: extract the token (RFC 6750 §2.1), verify it, apply the access
 * rule, and turn any refusal into its RFC 6750 answer (400/401/403 with a challenge, 503 with `Retry-After`).
 */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const verifier = createVerifier(options);
  if (options.resourceMetadataUrl !== undefined && !URL.canParse(options.resourceMetadataUrl)) {
    throw new TypeError('resourceMetadataUrl must be an absolute URL (RFC 9728 §5.1)');
  }
  const now = options.now ?? Date.now;
  const dpop =
    options.dpop === false
      ? undefined
      : createDpopCheck(
          options.dpop ?? {},
          options.resourceMetadataUrl,
          now,
          options.clockToleranceSec ?? defaults.clockToleranceSec,
        );
  const challenge: Challenge = {
    realm: quote(options.realm ?? defaults.realm),
    resourceMetadata: options.resourceMetadataUrl === undefined ? undefined : quote(options.resourceMetadataUrl),
    bearer: !dpop?.required,
    dpopAlgs: dpop?.acceptsProofs ? quote(dpop.algs) : undefined,
  };
  const { policy, getToken } = options;
  /** Refusals that depend on the reason (and the scheme used) alone are built once. */
  const plain = new Map<string, { readonly refusal: Refusal }>();

  function refuse(reason: RefusalReason, scheme: Scheme = 'Bearer'): { readonly refusal: Refusal } {
    const key = `${scheme} ${reason}`;
    let outcome = plain.get(key);
    if (!outcome) plain.set(key, (outcome = Object.freeze({ refusal: toRefusal(challenge, reason, { scheme }) })));
    return outcome;
  }

  function settle(verdict: Principal | Refused, access: Access, scheme: Scheme, token: string): Outcome {
    if (verdict instanceof Refused) {
      return verdict.retryAfterSeconds === undefined
        ? refuse(verdict.reason, scheme)
        : { refusal: toRefusal(challenge, verdict.reason, { retryAfterSeconds: verdict.retryAfterSeconds }) };
    }
    return checkAccess(challenge, { principal: verdict, access, scheme, token }, now);
  }

  return {
    authenticate(request, explicit) {
      const access = explicit ?? policy?.accessFor(request.method, request.path) ?? authenticatedAccess;
      if (access.kind === 'public') return { principal: undefined, access };
      const extracted = extractCredentials(request, dpop, getToken);
      if (extracted === 'missing' && access.kind === 'optional') return { principal: undefined, access };
      if (typeof extracted !== 'object') return refuse(extracted, extracted.startsWith('dpop_') ? 'DPoP' : 'Bearer');
      if (extracted.scheme === 'Bearer') {
        if (dpop?.required) return refuse('dpop_required');
        const verdict = verifier.check(extracted.token);
        return verdict instanceof Promise
          ? verdict.then((v) => settle(refuseBoundBearer(v), access, 'Bearer', extracted.token))
          : settle(refuseBoundBearer(verdict), access, 'Bearer', extracted.token);
      }
      // The proof after the token (a proof costs a signature, a forged token often none) and before the access rule,
      // so that a stolen token without its key learns nothing of its scopes. On every request, a remembered token's
      // too: the token cache keeps verdicts on tokens, never on proofs.
      const { token, proof } = extracted;
      const target = { method: request.method, path: request.fullPath ?? request.path, identity: request.headers };
      return Promise.resolve(verifier.check(token))
        .then((v) => (v instanceof Refused || !dpop ? v : dpop.prove(v, token, proof, target)))
        .then((v) => settle(v, access, 'DPoP', token));
    },
    warmUp: () => verifier.warmUp(),
    ready: () => verifier.ready(),
    issuers: verifier.issuers,
    stats: verifier.stats,
  };
}

/** A valid token against the route's access rule: admitted, or refused for what it lacks (naming its principal). */
function checkAccess(
  challenge: Challenge,
  verified: { readonly principal: Principal; readonly access: Access; readonly scheme: Scheme; readonly token: string },
  now: () => number,
): Outcome {
  const { principal, access, scheme, token } = verified;
  // First: a token this route does not accept at all is told so (401), not which scope it lacks.
  const claim = unmetClaimRule(access, principal.claims);
  if (claim) return { refusal: toRefusal(challenge, 'claim_check_failed', { claim }), principal };
  const scope = missingScopes(access, principal.scopes);
  if (scope.length > 0) return { refusal: toRefusal(challenge, 'insufficient_scope', { scope, scheme }), principal };
  const groups = unmetGroupRule(access, principal);
  if (groups) return { refusal: toRefusal(challenge, 'group_not_allowed', { groups, scheme }), principal };
  // After the scopes and groups: a person is asked to sign in again only for a token that would then be admitted.
  const stepUp = unmetStepUp(access, principal, now);
  if (stepUp)
    return { refusal: toRefusal(challenge, 'insufficient_user_authentication', { stepUp, scheme }), principal };
  return { principal, access, token };
}

/** How often a header came, from Node's `rawHeaders`: its `headers` keeps only the first `Authorization`. */
function countHeaders(rawHeaders: readonly string[], lowerCaseName: string): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    // The length first: no lower-cased copy of every other header name.
    if (name?.length === lowerCaseName.length && name.toLowerCase() === lowerCaseName) count += 1;
  }
  return count;
}

function extractCredentials(
  request: AuthRequest,
  dpop: DpopCheck | undefined,
  getToken: AuthenticatorOptions['getToken'],
): Credentials | 'missing' | 'malformed' | 'dpop_proof_missing' | 'dpop_proof_invalid' {
  // Node keeps only the first of repeated Authorization headers; two credentials are ambiguous, so refuse them.
  if (request.rawHeaders && countHeaders(request.rawHeaders, 'authorization') > 1) return 'malformed';
  const header = request.headers['authorization'];
  if (typeof header !== 'string' && header !== undefined) return 'malformed';
  // RFC 6750 §2.3: tokens in the query string end up in logs and browser history; we accept only the header, and
  // say so instead of silently ignoring a query token. §2: a client must not use more than one method at once.
  const { query } = request;
  if (query !== undefined && query !== '' && new URLSearchParams(query).has('access_token')) return 'malformed';
  const elsewhere = getToken?.(request);
  if (elsewhere !== undefined) {
    // A JavaScript getToken may return anything: only a non-empty string is a token, and a bearer one.
    if (typeof elsewhere !== 'string' || elsewhere === '') return 'malformed';
    return header === undefined || header === '' ? { scheme: 'Bearer', token: elsewhere } : 'malformed';
  }
  if (header === undefined || header === '') return 'missing';
  const found = credentialsHeader.exec(header);
  const token = found?.[2];
  if (token === undefined) return 'malformed';
  const proof = request.headers['dpop'];
  if (found?.[1]?.toLowerCase() === 'bearer') {
    // A proof beside a bearer token: the client meant DPoP but wrote the wrong scheme; refused rather than guessed.
    return dpop?.acceptsProofs && proof !== undefined ? 'malformed' : { scheme: 'Bearer', token };
  }
  if (!dpop?.acceptsProofs) return 'malformed';
  // RFC 9449 §4.3 step 1: exactly one DPoP header, holding one JWT (Node joins repeated unknown headers with ", ").
  if (proof === undefined || proof === '') return 'dpop_proof_missing';
  const proofs = request.rawHeaders ? countHeaders(request.rawHeaders, 'dpop') : 1;
  if (typeof proof !== 'string' || proofs > 1 || proof.includes(',')) return 'dpop_proof_invalid';
  return { scheme: 'DPoP', token, proof };
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '')}"`;
}

/** What every challenge names, quoted once. */
interface Challenge {
  readonly realm: string;
  readonly resourceMetadata: string | undefined;
  /** False when DPoP is required: the Bearer scheme is then not offered. */
  readonly bearer: boolean;
  /** The `DPoP` challenge's `algs` (RFC 9449 §7.1), when the DPoP scheme is accepted. */
  readonly dpopAlgs: string | undefined;
}

/** The one place a refusal reason becomes an answer: status, challenge, headers and body. */
function toRefusal(
  challenge: Challenge,
  reason: RefusalReason,
  extra: {
    scope?: readonly string[];
    groups?: GroupRule;
    claim?: ClaimRule;
    stepUp?: StepUp;
    retryAfterSeconds?: number;
    /** The scheme the client used: its challenge carries the error code (RFC 9449 §7.1). */
    scheme?: Scheme;
  } = {},
): Refusal {
  const { status, error, description: text } = refusalResponse(reason);
  // Which group is missing, and the rule's other ways in, come from the access rule, never from the token: they may
  // be said, and they tell a client what would do.
  const description = extra.groups
    ? `${text}: ${waysThrough(extra.groups)}`
    : extra.claim
      ? `${text}: ${extra.claim.description}`
      : text;
  const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
  if (status === 503) {
    // The key set says when its next fetch is due; a refusal that knows nothing better says 1 s.
    headers['Retry-After'] = String(extra.retryAfterSeconds ?? 1);
  } else {
    const errorParams: string[] = [];
    // RFC 6750 §3: the answer to a request without credentials carries no error code.
    if (error !== undefined) errorParams.push(`error=${quote(error)}`, `error_description=${quote(description)}`);
    if (extra.scope && extra.scope.length > 0) errorParams.push(`scope=${quote(extra.scope.join(' '))}`);
    // RFC 9470 §3: the whole rule, not only the part that failed, so that the next token meets all of it.
    const { maxAgeSec, acrValues } = extra.stepUp ?? {};
    if (maxAgeSec !== undefined) errorParams.push(`max_age=${quote(String(maxAgeSec))}`);
    if (acrValues !== undefined) errorParams.push(`acr_values=${quote(acrValues.join(' '))}`);
    // RFC 9449 §7.1: one challenge per scheme offered; the error goes in the one the client used (in DPoP's when
    // Bearer is not offered).
    const errorIn: Scheme = challenge.bearer ? (extra.scheme ?? 'Bearer') : 'DPoP';
    const params = (scheme: Scheme) => {
      const all = [`realm=${challenge.realm}`, ...(errorIn === scheme ? errorParams : [])];
      // RFC 9728 §5.1 defines resource_metadata as a parameter of the challenge, whatever its status (its example is
      // RFC 6750's 401): on the 400 and the 403 too, where the metadata says how to send a token and which scopes exist.
      if (challenge.resourceMetadata !== undefined) all.push(`resource_metadata=${challenge.resourceMetadata}`);
      return all.join(', ');
    };
    const challenges: string[] = [];
    if (challenge.bearer) challenges.push(`Bearer ${params('Bearer')}`);
    if (challenge.dpopAlgs !== undefined) challenges.push(`DPoP ${params('DPoP')}, algs=${challenge.dpopAlgs}`);
    headers['WWW-Authenticate'] = challenges.join(', ');
  }
  return Object.freeze({
    reason,
    status,
    headers: Object.freeze(headers),
    body: Object.freeze({ error: error ?? 'unauthorized', error_description: description }),
  });
}

/** A group rule's ways in, as a refusal names them: "one of admins, or the scope reports/read". */
function waysThrough(rule: GroupRule): string {
  const ways = [`one of ${Array.isArray(rule.anyOf) ? rule.anyOf.join(', ') : ''}`];
  if (rule.orScopes) ways.push(`the scope ${rule.orScopes.join(' ')}`);
  if (rule.orMachinesWithScopes) ways.push(`as a machine client the scope ${rule.orMachinesWithScopes.join(' ')}`);
  return ways.join(', or ');
}
