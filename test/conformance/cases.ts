import type { JWTPayload } from 'jose';
import type { KeySetEvent } from '@product-service/bearer';
import type { DpopKey, TestIssuer as TestIssuer, TestKey } from '@product-service/bearer-testing';
import { personSubject, type TestClock } from '@product-service/bearer-testing';

/** What a case may use: the JWKS server it controls, its published key, the authenticator's clock. */
export interface World {
  readonly jwks: TestIssuer;
  /** The key published at the start of every case. */
  readonly key: TestKey;
  /** A second key, published by no one until a case does. */
  readonly other: TestKey;
  readonly clock: TestClock;
  /**
   * A Cognito access token granting `items/read`, signed by `key` (or `with_`), valid for two hours from the clock's
   * now; `claims` override any of that.
   */
  token(claims?: JWTPayload, with_?: TestKey): Promise<string>;
  /** Resolves once the key set has emitted `count` events of `type` in this case. */
  events(type: KeySetEvent['type'], count: number): Promise<void>;
  /** The client's DPoP key (RFC 9449), for a case with `dpop`: `token(dpop.cnf)` is bound to it. */
  readonly dpop: DpopKey;
  /** The resource URL the authenticator is configured with for a DPoP case; proofs name it in `htu`. */
  readonly resource: string;
}

export interface Sent {
  readonly method?: 'GET' | 'POST' | 'HEAD';
  /** Path and query. */
  readonly path: string;
  /** The value of one Authorization header, or of each of several (written on a raw socket). */
  readonly authorization?: string | readonly string[];
  /** The value of one DPoP header, or of each of several (written on a raw socket). */
  readonly dpop?: string | readonly string[];
  /** The value of the Cookie header. */
  readonly cookie?: string;
}

export interface Expected {
  readonly status: number;
  /** The exact `WWW-Authenticate`, or `null` when there must be none. */
  readonly challenge: string | null;
  /** The exact JSON body; `null` for none (HEAD); `'any'` where the framework writes its own (a 404). */
  readonly body: unknown;
  /** A `Retry-After` of whole seconds (RFC 9110 §10.2.3). */
  readonly retryAfter?: boolean;
  /** JWKS fetches so far in this case. */
  readonly jwksFetches?: number;
}

export interface Step {
  /** What happens first: the issuer goes down, a key is published, the clock moves. */
  readonly before?: (world: World) => void | Promise<void>;
  readonly send: (world: World) => Sent | Promise<Sent>;
  readonly expect: Expected;
}

export interface ConformanceCase {
  /** Reads like the contract. */
  readonly name: string;
  /** Where the rule comes from: an RFC section, or the docs for this service's own design. */
  readonly source: string;
  /** The issuer is down from the start (no key set yet). */
  readonly issuerDown?: boolean;
  /** DPoP (RFC 9449) with the resource URL configured, so that proofs are checked; `required` refuses bearer tokens. */
  readonly dpop?: { readonly required?: boolean };
  /** The authenticator also takes a token from the `session` cookie (its `getToken` option), as a browser app sends it. */
  readonly sessionCookie?: boolean;
  readonly steps: readonly Step[];
}

export const realm = 'conformance';
const challenge = (error: string, description: string, extra = '') =>
  `Bearer realm="${realm}", error="${error}", error_description="${description}"${extra}`;
const invalidToken = (description: string): Expected => ({
  status: 401,
  challenge: challenge('invalid_token', description),
  body: { error: 'invalid_token', error_description: description },
});
const invalidRequest: Expected = {
  status: 400,
  challenge: challenge('invalid_request', 'malformed bearer credentials'),
  body: { error: 'invalid_request', error_description: 'malformed bearer credentials' },
};
const noToken: Expected = {
  status: 401,
  challenge: `Bearer realm="${realm}"`,
  body: { error: 'unauthorized', error_description: 'a bearer token is required' },
};
const subject = (value: string | null): Expected => ({ status: 200, challenge: null, body: { subject: value } });
/** The 403 of a group rule: which groups, and any other way in the rule names (never anything from the token). */
const lacksGroup = (needed: string): Expected => {
  const description = `token lacks the required group: ${needed}`;
  return {
    status: 403,
    challenge: challenge('insufficient_scope', description),
    body: { error: 'insufficient_scope', error_description: description },
  };
};
/** A person's token: a username (a machine has none) and its groups. */
const person = (username: string, groups: readonly string[], claims: JWTPayload = {}): JWTPayload => ({
  username,
  'cognito:groups': [...groups],
  ...claims,
});
const bearer = (token: string) => `Bearer ${token}`;
/** A failed claim check: 401 invalid_token, as express-oauth2-jwt-bearer answers (its InvalidTokenError). */
const claimsRefused = (why: string) => invalidToken(`token claims not accepted: ${why}`);
/** Sends a token with these claims (beside the defaults of `World.token`) to `path`. */
const withToken =
  (path: string, claims: JWTPayload): Step['send'] =>
  async (w) => ({ path, authorization: bearer(await w.token(claims)) });
/** A case whose authenticator reads the `session` cookie through getToken. */
const withCookie = (testCase: ConformanceCase): ConformanceCase => ({ ...testCase, sessionCookie: true });
const epoch = (world: World) => Math.floor(world.clock.now() / 1000);

/** One request, one answer. */
const once = (name: string, source: string, send: Step['send'], expect: Expected): ConformanceCase => ({
  name,
  source,
  steps: [{ send, expect }],
});

/**
 * The refusal matrix, and the key set's outage, cooldown and rotation, as every adapter must answer them: the same
 * status, the same `WWW-Authenticate` and the same JSON body (and `Cache-Control: no-store` on every refusal).
 */
export const cases: readonly ConformanceCase[] = [
  // Access rules.
  once(
    'admits a public route without a token',
    'docs/authentication.md (route policy)',
    () => ({ path: '/public' }),
    subject(null),
  ),
  once(
    'answers 401 with a bare challenge, no error code, when no token is sent',
    'RFC 6750 §3.1',
    () => ({ path: '/items' }),
    noToken,
  ),
  once(
    'closes a route that names no access: 401 without a token',
    'docs/authentication.md (closed by default)',
    () => ({ path: '/private' }),
    noToken,
  ),
  once(
    'closes an unknown path: 401 without a token',
    'docs/authentication.md (closed by default)',
    () => ({ path: '/nowhere' }),
    noToken,
  ),
  once(
    'answers 404 for an unknown path once the token is valid',
    'docs/authentication.md (closed by default)',
    async (w) => ({ path: '/nowhere', authorization: bearer(await w.token()) }),
    { status: 404, challenge: null, body: 'any' },
  ),
  once(
    'admits a valid token that grants the scope, the principal handed to the route',
    'RFC 6750 §2.1',
    async (w) => ({ path: '/items', authorization: bearer(await w.token({ scope: 'items/read' })) }),
    subject('test-client'),
  ),
  once(
    'admits a route that names no access with any valid token',
    'docs/authentication.md (closed by default)',
    async (w) => ({ path: '/private', authorization: bearer(await w.token({ scope: 'other' })) }),
    subject('test-client'),
  ),
  once(
    'accepts the scheme name in any case',
    'RFC 9110 §11.1, RFC 6750 §2.1',
    async (w) => ({ path: '/items', authorization: `bEaReR ${await w.token({ scope: 'items/read' })}` }),
    subject('test-client'),
  ),
  once(
    'answers 403 insufficient_scope naming the scope a read needs',
    'RFC 6750 §3.1',
    async (w) => ({ path: '/items', authorization: bearer(await w.token({ scope: 'items/write' })) }),
    {
      status: 403,
      challenge: challenge('insufficient_scope', 'token lacks the required scope', ', scope="items/read"'),
      body: { error: 'insufficient_scope', error_description: 'token lacks the required scope' },
    },
  ),
  once(
    'answers 403 insufficient_scope naming the scope a write needs',
    'RFC 6750 §3.1',
    async (w) => ({
      method: 'POST',
      path: '/items',
      authorization: bearer(await w.token({ scope: 'items/read' })),
    }),
    {
      status: 403,
      challenge: challenge('insufficient_scope', 'token lacks the required scope', ', scope="items/write"'),
      body: { error: 'insufficient_scope', error_description: 'token lacks the required scope' },
    },
  ),
  once(
    'treats HEAD as GET: the same 403, without a body',
    'RFC 9110 §9.3.2',
    async (w) => ({ method: 'HEAD', path: '/items', authorization: bearer(await w.token({ scope: 'other' })) }),
    {
      status: 403,
      challenge: challenge('insufficient_scope', 'token lacks the required scope', ', scope="items/read"'),
      body: null,
    },
  ),
  once(
    'answers 403 to a person in none of the groups a route names, naming them',
    'RFC 6750 §3.1 (insufficient_scope); docs/authentication.md (group rules)',
    async (w) => ({ path: '/admins', authorization: bearer(await w.token(person('bob', ['users']))) }),
    lacksGroup('one of admins'),
  ),
  once(
    'admits a person in one of the groups a route names, under their own subject',
    'docs/authentication.md (group rules)',
    async (w) => ({ path: '/admins', authorization: bearer(await w.token(person('ada', ['users', 'admins']))) }),
    subject(personSubject('ada')),
  ),
  once(
    'answers 403 to a machine token on a route that names groups: it has none, and the rule names no other way in',
    'docs/authentication.md (group rules: a rule that names groups refuses a caller without them, machines included)',
    async (w) => ({ path: '/admins', authorization: bearer(await w.token({ scope: 'items/read reports/read' })) }),
    lacksGroup('one of admins'),
  ),
  once(
    'admits a machine token granting the scope a group rule names as its other way in',
    'docs/authentication.md (group rules: orScopes)',
    async (w) => ({ path: '/reports', authorization: bearer(await w.token({ scope: 'reports/read' })) }),
    subject('test-client'),
  ),
  once(
    'answers 403 to a machine token with neither the group nor the scope, naming both ways in',
    'RFC 6750 §3.1; docs/authentication.md (group rules: orScopes)',
    async (w) => ({ path: '/reports', authorization: bearer(await w.token({ scope: 'items/read' })) }),
    lacksGroup('one of admins, or the scope reports/read'),
  ),
  once(
    'admits a machine token granting the scope a group rule names for machines',
    'docs/authentication.md (group rules: orMachinesWithScopes)',
    async (w) => ({ path: '/sync', authorization: bearer(await w.token({ scope: 'items/sync' })) }),
    subject('test-client'),
  ),
  once(
    'answers 403 to a person granting the scope named for machines, but in none of the groups',
    'docs/authentication.md (group rules: orMachinesWithScopes is for machine clients only)',
    async (w) => ({ path: '/sync', authorization: bearer(await w.token(person('bob', [], { scope: 'items/sync' }))) }),
    lacksGroup('one of admins, or as a machine client the scope items/sync'),
  ),
  once(
    'admits an anonymous caller on an optional route',
    'docs/authentication.md (optional authentication)',
    () => ({ path: '/feed' }),
    subject(null),
  ),
  once(
    'admits a valid token on an optional route with its principal',
    'docs/authentication.md (optional authentication)',
    async (w) => ({ path: '/feed', authorization: bearer(await w.token()) }),
    subject('test-client'),
  ),
  once(
    'refuses a bad token on an optional route as anywhere else',
    'RFC 6750 §3.1',
    async (w) => ({ path: '/feed', authorization: bearer(await w.token({}, { ...w.other, kid: w.key.kid })) }),
    invalidToken('token signature invalid'),
  ),

  // Claim checks: express-oauth2-jwt-bearer's claimEquals / claimIncludes / claimCheck, in every adapter. A failed
  // check is 401 invalid_token as there, not 403: the token is refused, not its grant (auth0/node-oauth2-jwt-bearer,
  // packages/access-token-jwt/src/claim-check.ts, `throw new InvalidTokenError(errMsg)`, read 2026-12-07).
  once(
    'admits a token whose claim equals the value the route names, beside the scope it needs',
    'express-oauth2-jwt-bearer claimEquals',
    withToken('/org', { scope: 'items/read', org_id: 'org_42' }),
    subject('test-client'),
  ),
  once(
    'answers 401 invalid_token naming the claim when it holds another value',
    'express-oauth2-jwt-bearer claimEquals (InvalidTokenError); RFC 6750 §3.1',
    withToken('/org', { scope: 'items/read', org_id: 'org_7' }),
    claimsRefused("unexpected 'org_id' value"),
  ),
  once(
    'admits a token whose list claim includes the value the route names',
    'express-oauth2-jwt-bearer claimIncludes',
    withToken('/mfa', { amr: ['pwd', 'mfa'] }),
    subject('test-client'),
  ),
  once(
    'answers 401 invalid_token naming the claim when its list lacks the value',
    'express-oauth2-jwt-bearer claimIncludes (InvalidTokenError); RFC 6750 §3.1',
    withToken('/mfa', { amr: ['pwd'] }),
    claimsRefused("unexpected 'amr' value"),
  ),
  once(
    "admits a token that passes the app's own claim check",
    'express-oauth2-jwt-bearer claimCheck',
    withToken('/acme', { tenant: 'acme' }),
    subject('test-client'),
  ),
  once(
    "answers 401 invalid_token with the check's own description when the token fails it",
    'express-oauth2-jwt-bearer claimCheck (InvalidTokenError); RFC 6750 §3.1',
    withToken('/acme', { tenant: 'umbrella' }),
    claimsRefused('tenant acme only'),
  ),

  // A token from elsewhere (getToken), a session cookie here; the header stays the default, and one method at a time.
  withCookie(
    once(
      'takes the token from where getToken finds it, a session cookie',
      "docs/authentication.md (getToken), as express-jwt's getToken option",
      async (w) => ({ path: '/items', cookie: `theme=dark; session=${await w.token()}` }),
      subject('test-client'),
    ),
  ),
  withCookie(
    once(
      'keeps the Authorization header as the default when getToken finds nothing',
      'docs/authentication.md (getToken); RFC 6750 §2.1',
      async (w) => ({ path: '/items', authorization: bearer(await w.token()) }),
      subject('test-client'),
    ),
  ),
  withCookie(
    once(
      'answers 400 invalid_request to a token both in the cookie and in the header',
      'RFC 6750 §2 (one method at a time), §3.1',
      async (w) => {
        const token = await w.token();
        return { path: '/items', authorization: bearer(token), cookie: `session=${token}` };
      },
      invalidRequest,
    ),
  ),
  withCookie(
    once(
      'still answers 400 invalid_request to a token in the query string when getToken is set',
      'RFC 6750 §2.3, §5.3',
      async (w) => ({ path: `/items?access_token=${await w.token()}` }),
      invalidRequest,
    ),
  ),

  // Malformed requests: 400 invalid_request.
  once(
    'answers 400 invalid_request to another scheme',
    'RFC 6750 §3.1, §2.1',
    () => ({ path: '/items', authorization: 'Basic dXNlcjpwYXNz' }),
    invalidRequest,
  ),
  once(
    'answers 400 invalid_request to credentials outside the b64token syntax',
    'RFC 6750 §2.1',
    () => ({ path: '/items', authorization: 'Bearer abc$def' }),
    invalidRequest,
  ),
  once(
    'answers 400 invalid_request to two Authorization headers',
    'RFC 6750 §2 (one method at a time), §3.1',
    async (w) => {
      const token = bearer(await w.token({ scope: 'items/read' }));
      return { path: '/items', authorization: [token, token] };
    },
    invalidRequest,
  ),
  once(
    'answers 400 invalid_request to a token in the query string, even beside a good header',
    'RFC 6750 §2.3, §5.3',
    async (w) => {
      const token = await w.token({ scope: 'items/read' });
      return { path: `/items?access_token=${token}`, authorization: bearer(token) };
    },
    invalidRequest,
  ),

  // Bad tokens: 401 invalid_token.
  once(
    'refuses an expired token',
    'RFC 6750 §3.1, RFC 7519 §4.1.4',
    async (w) => ({
      path: '/items',
      authorization: bearer(await w.token({ iat: epoch(w) - 7200, exp: epoch(w) - 3600 })),
    }),
    invalidToken('token expired'),
  ),
  once(
    'refuses a token signed by another key under the trusted kid',
    'RFC 6750 §3.1, RFC 7515 §5.2',
    async (w) => ({ path: '/items', authorization: bearer(await w.token({}, { ...w.other, kid: w.key.kid })) }),
    invalidToken('token signature invalid'),
  ),
  {
    name: 'refuses a token from an issuer that is not configured, without fetching anything',
    source: 'RFC 6750 §3.1, RFC 8725 §3.8',
    steps: [
      {
        send: async (w) => ({
          path: '/items',
          authorization: bearer(await w.token({ iss: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other' })),
        }),
        expect: { ...invalidToken('token issuer not accepted'), jwksFetches: 0 },
      },
    ],
  },
  {
    name: 'refuses a token whose kid the issuer does not publish, after one fetch',
    source: 'RFC 6750 §3.1, RFC 7515 §4.1.4',
    steps: [
      {
        send: async (w) => ({ path: '/items', authorization: bearer(await w.token({}, w.other)) }),
        expect: { ...invalidToken('token signing key unknown'), jwksFetches: 1 },
      },
    ],
  },

  // The key set.
  {
    name: 'answers 503 with Retry-After and no challenge when the issuer is down at first use',
    source: 'RFC 9110 §15.6.4, §10.2.3; docs/authentication.md (the key set)',
    issuerDown: true,
    steps: [
      {
        send: async (w) => ({ path: '/items', authorization: bearer(await w.token()) }),
        expect: {
          status: 503,
          challenge: null,
          body: {
            error: 'temporarily_unavailable',
            error_description: 'token signing keys are temporarily unavailable',
          },
          retryAfter: true,
          jwksFetches: 1,
        },
      },
    ],
  },
  {
    name: 'refuses an unknown kid right after a fetch with 401, without a second fetch (cooldown)',
    source: 'docs/authentication.md (the key set: 30 s cooldown), as jose createRemoteJWKSet',
    steps: [
      {
        send: async (w) => ({ path: '/items', authorization: bearer(await w.token()) }),
        expect: { ...subject('test-client'), jwksFetches: 1 },
      },
      {
        send: async (w) => ({ path: '/items', authorization: bearer(await w.token({}, w.other)) }),
        expect: { ...invalidToken('token signing key unknown'), jwksFetches: 1 },
      },
    ],
  },
  {
    name: 'accepts a key the issuer rotated in, after one refetch past the cooldown',
    source: 'docs/authentication.md (the key set: unknown kid refetched)',
    steps: [
      {
        send: async (w) => ({ path: '/items', authorization: bearer(await w.token()) }),
        expect: { ...subject('test-client'), jwksFetches: 1 },
      },
      {
        before: (w) => {
          w.jwks.publish([w.key, w.other]);
          w.clock.advance(31_000);
        },
        send: async (w) => ({ path: '/items', authorization: bearer(await w.token({}, w.other)) }),
        expect: { ...subject('test-client'), jwksFetches: 2 },
      },
      {
        send: async (w) => ({ path: '/items', authorization: bearer(await w.token()) }),
        expect: { ...subject('test-client'), jwksFetches: 2 },
      },
    ],
  },
  {
    name: 'refuses a key the issuer removed once the set is past its maximum age and refreshed',
    source: 'docs/authentication.md (the key set: 10 min maximum age, stale-while-revalidate), RFC 5861 §3',
    steps: [
      {
        send: async (w) => ({ path: '/items', authorization: bearer(await w.token()) }),
        expect: { ...subject('test-client'), jwksFetches: 1 },
      },
      {
        // The issuer drops the key; past the maximum age the held set still answers while one refresh runs.
        before: (w) => {
          w.jwks.publish([w.other]);
          w.clock.advance(11 * 60_000);
        },
        send: async (w) => ({ path: '/items', authorization: bearer(await w.token()) }),
        expect: subject('test-client'),
      },
      {
        before: (w) => w.events('fetched', 2),
        send: async (w) => ({ path: '/items', authorization: bearer(await w.token()) }),
        expect: { ...invalidToken('token signing key unknown'), jwksFetches: 2 },
      },
      {
        send: async (w) => ({ path: '/items', authorization: bearer(await w.token({}, w.other)) }),
        expect: { ...subject('test-client'), jwksFetches: 2 },
      },
    ],
  },
];
