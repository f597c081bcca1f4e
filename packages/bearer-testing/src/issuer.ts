import { SignJWT, type JWTPayload } from 'jose';
import type { CognitoOptions, Rfc9068Options } from '@product-service/bearer';
import {
  cognitoAccessClaims,
  cognitoIdClaims,
  rfc9068Claims,
  testAudience,
  testClientId,
  type ClaimOverrides,
} from './claims.js';
import { startIssuerServer, type IssuerMode, type ModeOptions } from './issuer-server.js';
import { createTestKey, type TestKey } from './keys.js';

export interface TestIssuerOptions {
  /** The last segment of the issuer URL, as a Cognito user pool id is; `local_TestPool` by default. */
  readonly userPoolId?: string;
  /** The keys published at start, the last one signing; one new RS256 key by default. */
  readonly keys?: readonly TestKey[];
  /** The app client minted tokens name (`client_id`, and `aud` of ID tokens); `test-client` by default. */
  readonly clientId?: string;
  /** The `aud` of minted RFC 9068 tokens; `https://api.example.test` by default. */
  readonly audience?: string;
  /** Dates minted tokens (epoch milliseconds): a `TestClock`'s `now`, so tokens and verifier share one clock. */
  readonly now?: () => number;
  /**
   * The port on 127.0.0.1; 0 (the default) takes a free one, which `baseUrl` then names. A fixed port is for an issuer
   * that outlives one test run: a dev server, a container or a browser configured with its URL beforehand. Starting
   * rejects (`EADDRINUSE`) when the port is taken.
   */
  readonly port?: number;
}

/** How a token is signed: by `key` (the signing key by default), with `header` added to `alg` and `kid`. */
export interface SignOptions {
  readonly key?: TestKey;
  readonly header?: Readonly<Record<string, unknown>>;
}

/**
 * A fake OAuth 2 / OpenID Connect issuer over real HTTP on 127.0.0.1: it serves its discovery document and JWKS in
 * Cognito's layout (`{issuer}/.well-known/…`), mints tokens with its keys, rotates them, and fails on demand.
 */
export interface TestIssuer {
  /** `http://127.0.0.1:{port}` */
  readonly baseUrl: string;
  readonly userPoolId: string;
  /** The `iss` of every minted token: `{baseUrl}/{userPoolId}`. */
  readonly issuer: string;
  readonly jwksUri: string;
  readonly discoveryUri: string;
  readonly clientId: string;
  readonly audience: string;
  /** Requests answered (or left hanging) so far, by document. */
  readonly requests: { readonly jwks: number; readonly discovery: number };
  /** The published keys; the last one signs. */
  readonly keys: readonly TestKey[];
  readonly signingKey: TestKey;
  /** Publishes exactly these keys; the last one signs from now on. */
  publish(keys: readonly TestKey[]): void;
  /** Publishes a new key beside the others and signs with it from now on (retire the old one when you like). */
  rotate(alg?: string): Promise<TestKey>;
  /** Stops publishing `key`: tokens it signed stop verifying once a verifier refetches. */
  retire(key: TestKey): void;
  /** How the discovery document and JWKS are answered; see `IssuerMode`. Resolves once in effect. */
  setMode(mode: IssuerMode, options?: ModeOptions): Promise<void>;
  /** Answers (in any mode) only after this many milliseconds; 0 again to stop. */
  delay(ms: number): void;
  /**
   * A Cognito access token (`token_use`, `client_id`, `scope`): a machine's, whose `sub` is its client id; add
   * `username` and `cognito:groups` for a person's, whose `sub` is then `personSubject(username)`.
   */
  cognitoAccessToken(claims?: ClaimOverrides, options?: SignOptions): Promise<string>;
  /** A Cognito ID token (`token_use: id`, `aud` the app client, `cognito:username`, `sub` that person's own). */
  cognitoIdToken(claims?: ClaimOverrides, options?: SignOptions): Promise<string>;
  /** An RFC 9068 access token: `typ: at+jwt`, `iss exp aud sub client_id iat jti`, a scope. */
  rfc9068AccessToken(claims?: ClaimOverrides, options?: SignOptions): Promise<string>;
  /** Signs exactly `claims` (a Cognito access token's by default) with `key`: for tokens no profile would mint. */
  sign(key: TestKey, claims?: JWTPayload, header?: Readonly<Record<string, unknown>>): Promise<string>;
  /** What `cognito()` takes to trust this issuer; `clientIds` is this issuer's client unless given. */
  cognitoProfile(options?: Partial<Omit<CognitoOptions, 'userPoolId' | 'issuerBaseUrl' | 'region'>>): CognitoOptions;
  /** What `rfc9068()` takes to trust this issuer; `audience` is this issuer's audience unless given. */
  rfc9068Profile(options?: Partial<Omit<Rfc9068Options, 'issuer'>>): Rfc9068Options;
  /** Stops the server, ending hanging requests. */
  close(): Promise<void>;
}

export async function startTestIssuer(options: TestIssuerOptions = {}): Promise<TestIssuer> {
  const { userPoolId, clientId, audience, now, port } = settingsOf(options);
  let keys: readonly TestKey[] = options.keys ?? [await createTestKey()];
  const { server, issuer, jwksUri, discoveryUri } = await serveIssuer(port, userPoolId, () => keys);

  const signingKey = (): TestKey => {
    const key = keys.at(-1);
    if (!key) throw new Error('the test issuer publishes no key: publish() or rotate() one first');
    return key;
  };
  const sign = (key: TestKey, claims: JWTPayload, header: Readonly<Record<string, unknown>> = {}) =>
    new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.privateKey);
  // `sub` follows from these: the client's id for a machine, the person's own for a token with a `username`.
  const ours = { client_id: clientId };

  return {
    baseUrl: server.baseUrl,
    userPoolId,
    issuer,
    jwksUri,
    discoveryUri,
    clientId,
    audience,
    get requests() {
      return server.requests;
    },
    get keys() {
      return keys;
    },
    get signingKey() {
      return signingKey();
    },
    publish(next) {
      keys = [...next];
    },
    async rotate(alg) {
      const key = await createTestKey(alg);
      keys = [...keys, key];
      return key;
    },
    retire(key) {
      keys = keys.filter((k) => k.kid !== key.kid);
    },
    setMode: (mode, modeOptions) => server.setMode(mode, modeOptions),
    delay: (ms) => server.delay(ms),
    async cognitoAccessToken(claims = {}, { key = signingKey(), header } = {}) {
      return sign(key, cognitoAccessClaims(issuer, { ...ours, ...claims }, now()), header);
    },
    async cognitoIdToken(claims = {}, { key = signingKey(), header } = {}) {
      return sign(key, cognitoIdClaims(issuer, { aud: clientId, ...claims }, now()), header);
    },
    async rfc9068AccessToken(claims = {}, { key = signingKey(), header } = {}) {
      const claimSet = rfc9068Claims(issuer, { ...ours, aud: audience, ...claims }, now());
      return sign(key, claimSet, { typ: 'at+jwt', ...header });
    },
    sign(key, claims = cognitoAccessClaims(issuer, ours, now()), header = {}) {
      return sign(key, claims, header);
    },
    cognitoProfile(profile = {}) {
      return {
        ...profile,
        userPoolId,
        issuerBaseUrl: server.baseUrl,
        clientIds: profile.clientIds === undefined ? [clientId] : profile.clientIds,
      };
    },
    rfc9068Profile(profile = {}) {
      return { jwksUri, audience: [audience], ...profile, issuer };
    },
    close: () => server.close(),
  };
}

/** The options with their defaults, checked before anything listens. */
function settingsOf(options: TestIssuerOptions) {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError('startTestIssuer: port must be a whole number from 0 to 65535');
  }
  return {
    userPoolId: options.userPoolId ?? 'local_TestPool',
    clientId: options.clientId ?? testClientId,
    audience: options.audience ?? testAudience,
    now: options.now ?? Date.now,
    port,
  };
}

/** The HTTP server, serving the discovery document and the JWKS of whatever keys `keys()` names at each request. */
async function serveIssuer(port: number, userPoolId: string, keys: () => readonly TestKey[]) {
  const paths = {
    discovery: `/${userPoolId}/.well-known/openid-configuration`,
    jwks: `/${userPoolId}/.well-known/jwks.json`,
  };
  // The issuer and JWKS URLs need the port, known once the server listens.
  let issuer = '';
  let jwksUri = '';
  const server = await startIssuerServer(port, paths, {
    // What a resource server reads of OpenID Connect Discovery 1.0 §3, plus its required members.
    discovery: () => ({
      issuer,
      jwks_uri: jwksUri,
      response_types_supported: ['code', 'token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [...new Set(keys().map((key) => key.alg))],
    }),
    jwks: () => ({ keys: keys().map((key) => key.publicJwk) }),
  });
  issuer = `${server.baseUrl}/${userPoolId}`;
  jwksUri = `${server.baseUrl}${paths.jwks}`;
  return { server, issuer, jwksUri, discoveryUri: `${server.baseUrl}${paths.discovery}` };
}
