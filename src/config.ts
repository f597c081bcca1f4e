import { isIP } from 'node:net';
import { z } from 'zod';
import { cognito, oidc, standardClaims, type IssuerConfig, type KeySetOptions } from '@product-service/bearer';
import { defaults, supportedAlgorithms } from '@product-service/bearer/defaults';
import type { HttpTimeouts } from './http/listen.js';

/** The local client and issuer used when no AWS or OIDC settings are given. */
export interface LocalConfig {
  readonly issuerPort: number;
  readonly userPoolId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The people who may sign in at the embedded issuer's hosted login, with their Cognito groups. */
  readonly users: readonly LocalUser[];
}

export interface LocalUser {
  readonly username: string;
  readonly password: string;
  readonly groups: readonly string[];
}

export interface Config {
  readonly port: number;
  /**
   * The address the service listens on: loopback by default, so that local mode (an issuer with well-known passwords
   * and a service that trusts it) is not offered to the network; the image sets `0.0.0.0`, as a container must.
   */
  readonly host: string;
  readonly http: HttpTimeouts & {
    /** After SIGTERM, how long requests in flight may take before their connections are cut. */
    readonly shutdownTimeoutMs: number;
  };
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Pretty, human-oriented logs instead of JSON lines. */
  readonly prettyLogs: boolean;
  readonly auth: {
    /** `local`: the embedded issuer is started and trusted (its issuer URL is known only once it listens). */
    readonly mode: 'aws' | 'oidc' | 'local';
    readonly issuers: readonly IssuerConfig[];
    readonly realm: string;
    readonly clockToleranceSec: number;
    readonly maxTokenAgeSec: number | undefined;
    /** 0 turns the verified-token cache off. */
    readonly tokenCacheSize: number;
    readonly keySet: KeySetOptions;
    /**
     * The resource identifier (RFC 9728 §1.2), e.g. `https://api.example.com`: when set, its metadata is served at
     * the well-known path and named as `resource_metadata` in every challenge. Off when unset.
     */
    readonly resourceUrl: string | undefined;
    /** When set, a person deleting a product must have signed in at most this many seconds ago (RFC 9470). */
    readonly stepUpMaxAgeSec: number | undefined;
  };
  /** Browser origins allowed to call the API (CORS); none by default outside local mode. */
  readonly corsOrigins: readonly string[];
  /** The OAuth2 token endpoint named in the OpenAPI document; in local mode the embedded issuer's. */
  readonly tokenUrl: string | undefined;
  readonly products: {
    readonly table: string;
    readonly snapshotsTable: string;
    /** Without it, local mode runs an in-memory DynamoDB (dynalite) in the process. */
    readonly dynamodbEndpoint: string | undefined;
    /** Longest wait for one attempt of a DynamoDB call. */
    readonly dynamodbTimeoutMs: number;
    /** How many attempts the SDK makes of one DynamoDB call (its own retries included). */
    readonly dynamodbMaxAttempts: number;
    /**
     * The longest one request may spend on store work, every attempt and every retry after a lost race included;
     * past it the request is a 503 (or a 409 for a product changing too fast), never a hang.
     */
    readonly storeDeadlineMs: number;
    readonly region: string | undefined;
    readonly eventsTopicArn: string | undefined;
    /** Signs pagination cursors; random per process when unset (cursors then work only on that instance). */
    readonly cursorSecret: string | undefined;
    readonly outboxDrainIntervalMs: number;
  };
  readonly local: LocalConfig | undefined;
  /** Traces and metrics over OTLP; undefined (and no OpenTelemetry module loaded) unless an endpoint is set. */
  readonly telemetry: TelemetryConfig | undefined;
}

/** A Cognito user pool id: `{region}_{id}`, e.g. `us-east-1_AbC123`. */
const userPoolIdPattern = /^(?<region>[a-z]{2}(?:-[a-z]+)+-\d+)_[0-9A-Za-z]+$/;

/** The samplers of OpenTelemetry's SDK environment specification. */
const traceSamplers = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type TraceSampler = (typeof traceSamplers)[number];

/** The OpenTelemetry SDK's standard variables, the subset this service honours. */
export interface TelemetryConfig {
  /** The OTLP/HTTP base URL (a collector sidecar's `http://127.0.0.1:4318`); `/v1/traces` and `/v1/metrics` are added. */
  readonly endpoint: string;
  readonly protocol: 'http/protobuf' | 'http/json';
  readonly serviceName: string;
  readonly sampler: TraceSampler;
  /** The ratio of the `traceidratio` samplers, from 0 to 1. */
  readonly samplerRatio: number;
  readonly metricExportIntervalMs: number;
  /** How histograms are exported: exponential buckets let CloudWatch (the collector's awsemf) give percentiles. */
  readonly histogramAggregation: 'explicit_bucket_histogram' | 'base2_exponential_bucket_histogram';
}

/** What is wrong with the environment, on one line an operator reads in a log: every variable named, no value. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

const port = (fallback: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number from 0 to 65535')
    .transform(Number)
    .refine((n) => n <= 65535, 'must be a whole number from 0 to 65535')
    .default(fallback);

const list = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0),
  )
  .optional();

const whole = (fallback: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n <= max, `must be at most ${max}`)
    .default(fallback);

const origin = z
  .string()
  .refine(
    (value) => URL.canParse(value) && new URL(value).origin === value,
    'must list origins such as https://app.example.com',
  );

/** An enum whose message names the values, in the house style. */
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.join(', ')}` });

const httpsUrl = z
  .string()
  .trim()
  .refine((value) => URL.canParse(value), { message: 'must be an absolute URL', abort: true })
  .refine((value) => {
    const url = new URL(value);
    return (
      url.protocol === 'https:' ||
      (url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname))
    );
  }, 'must be an https URL (http only for localhost)');

/** Every variable the service reads, with its rule and default: docs/configuration.md's table lists them all. */
const variables = z.object({
  PORT: port(3000),
  HOST: z
    .string()
    .trim()
    .refine(
      (value) => isIP(value) !== 0 || value === 'localhost',
      'must be an IP address (0.0.0.0, ::, 127.0.0.1) or localhost',
    )
    .default('127.0.0.1'),
  HTTP_HEADERS_TIMEOUT_MS: whole(10_000, 600_000).refine((n) => n >= 100, 'must be at least 100'),
  HTTP_REQUEST_TIMEOUT_MS: whole(30_000, 3_600_000).refine((n) => n >= 100, 'must be at least 100'),
  // Above the ALB's idle timeout (60 s in infra/service.template.yml): the balancer, not the service, closes idle
  // connections, so it never sends a request on a connection the service is closing.
  HTTP_KEEP_ALIVE_TIMEOUT_MS: whole(65_000, 3_600_000),
  // Within the ECS task's StopTimeout (30 s), with room to close the store and the drainer afterwards.
  SHUTDOWN_TIMEOUT_MS: whole(20_000, 120_000),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: oneOf(['json', 'pretty']).optional(),
  // The region form of AWS; with COGNITO_ISSUER_URL an emulator's pool id, e.g. local_ProductService (checked below).
  USER_POOL_ID: list.pipe(
    z
      .array(z.string().regex(/^[\w-]+_[0-9A-Za-z]+$/, 'must be a Cognito user pool id such as us-east-1_AbC123'))
      .optional(),
  ),
  // A Cognito-compatible issuer elsewhere (the embedded one run alone, LocalStack, cognito-local, moto), with every
  // Cognito rule of USER_POOL_ID kept: tokens must come from `{COGNITO_ISSUER_URL}/{USER_POOL_ID}`.
  COGNITO_ISSUER_URL: httpsUrl.optional(),
  COGNITO_TOKEN_USE: list.pipe(z.array(oneOf(['access', 'id'])).optional()),
  AWS_REGION: z
    .string()
    .trim()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS region such as us-east-1')
    .optional(),
  ALLOWED_CLIENT_IDS: list,
  OIDC_ISSUER: httpsUrl.optional(),
  JWKS_URI: httpsUrl.optional(),
  OIDC_AUDIENCE: list,
  OIDC_TOKEN_TYPE: z.string().trim().min(1, 'must not be blank').optional(),
  JWT_ALGORITHMS: list.pipe(z.array(oneOf(supportedAlgorithms)).optional()),
  CLOCK_TOLERANCE_SECONDS: whole(defaults.clockToleranceSec, 300),
  MAX_TOKEN_AGE_SECONDS: z.string().trim().regex(/^\d+$/, 'must be a whole number').transform(Number).optional(),
  TOKEN_CACHE_SIZE: whole(defaults.tokenCacheSize, 1_000_000),
  // RFC 9728 §1.2: https, no fragment; no query either, so that the metadata's path (§3.1) is one a router serves.
  RESOURCE_URL: httpsUrl
    .refine((value) => !/[?#]/.test(value), 'must have no query or fragment')
    .refine(
      (value) => new URL(value).username === '' && new URL(value).password === '',
      'must have no user or password',
    )
    // The metadata's path becomes a route; letters, digits, `-._~` and `/` only, so no character reads as a pattern.
    .refine((value) => /^[\w.~/-]*$/.test(new URL(value).pathname), 'must have a path of letters, digits, -._~ and /')
    .optional(),
  STEP_UP_MAX_AGE_SECONDS: z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number of seconds')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 31_536_000, 'must be from 1 to 31536000')
    .optional(),
  JWKS_MAX_AGE_SECONDS: whole(defaults.keySet.maxAgeMs / 1000),
  JWKS_COOLDOWN_SECONDS: whole(defaults.keySet.cooldownMs / 1000),
  JWKS_STALE_IF_ERROR_SECONDS: whole(defaults.keySet.staleIfErrorMs / 1000),
  JWKS_TIMEOUT_MS: whole(defaults.keySet.timeoutMs, 60_000),
  CORS_ORIGINS: list.pipe(z.array(origin).optional()),
  OAUTH_TOKEN_URL: httpsUrl.optional(),
  PRODUCTS_TABLE_NAME: z
    .string()
    .trim()
    .regex(/^[\w.-]{3,255}$/, 'must be a DynamoDB table name')
    .default('Products'),
  PRODUCTS_SNAPSHOT_TABLE_NAME: z
    .string()
    .trim()
    .regex(/^[\w.-]{3,255}$/, 'must be a DynamoDB table name')
    .default('ProductSnapshots'),
  DYNAMODB_ENDPOINT: z
    .string()
    .trim()
    .refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), 'must be an http(s) URL')
    .optional(),
  DYNAMODB_TIMEOUT_MS: whole(1000, 60_000),
  DYNAMODB_MAX_ATTEMPTS: whole(3, 10).refine((n) => n >= 1, 'must be from 1 to 10'),
  STORE_DEADLINE_MS: whole(5000, 60_000).refine((n) => n >= 100, 'must be at least 100'),
  PRODUCT_EVENTS_TOPIC_ARN: z
    .string()
    .trim()
    .regex(/^arn:aws[\w-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$/, 'must be an SNS topic ARN')
    .optional(),
  CURSOR_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  OUTBOX_DRAIN_INTERVAL_SECONDS: whole(10, 3600),
  // Not 9229, Node's inspector port, so that `node --inspect` and the local issuer can run together.
  LOCAL_ISSUER_PORT: port(3001),
  LOCAL_USER_POOL_ID: z
    .string()
    .trim()
    .regex(/^[\w-]+_[0-9A-Za-z]+$/, 'must look like a user pool id, e.g. local_ProductService')
    .default('local_ProductService'),
  LOCAL_CLIENT_ID: z.string().trim().min(1, 'must not be empty').default('local-client'),
  LOCAL_CLIENT_SECRET: z.string().min(8, 'must be at least 8 characters').default('local-client-secret'),
  // `username:password:group|group`, comma-separated; an administrator who may write and a reader who may not.
  LOCAL_USERS: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((entry) => entry.trim())
        .filter((entry) => entry.length > 0),
    )
    .pipe(
      z
        .array(
          z
            .string()
            .regex(
              /^[\w.@+-]{1,128}:[^:,]{8,}(:[\w.@+-]+(\|[\w.@+-]+)*)?$/,
              'must list users as username:password:group|group, passwords at least 8 characters',
            ),
        )
        .min(1, 'must list at least one user'),
    )
    .default(['admin:admin-password:catalog-admins', 'reader:reader-password']),
  // OpenTelemetry's own names (its SDK environment specification); telemetry is on when an endpoint is set.
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .string()
    .trim()
    .refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), 'must be an http(s) URL')
    .optional(),
  // gRPC would bring its own stack for what OTLP/HTTP does as well; the collector sidecar listens for both.
  OTEL_EXPORTER_OTLP_PROTOCOL: oneOf(['http/protobuf', 'http/json']).default('http/protobuf'),
  OTEL_SERVICE_NAME: z.string().trim().min(1, 'must not be blank').default('product-service'),
  OTEL_TRACES_SAMPLER: oneOf(traceSamplers).default('parentbased_always_on'),
  OTEL_TRACES_SAMPLER_ARG: z
    .string()
    .trim()
    .refine((value) => /^(0|1|0?\.\d+|1\.0*)$/.test(value), 'must be a number from 0 to 1')
    .transform(Number)
    .optional(),
  // Milliseconds, as the specification has it; a minute, as CloudWatch's standard resolution is.
  OTEL_METRIC_EXPORT_INTERVAL: whole(60_000, 3_600_000).refine((n) => n >= 100, 'must be at least 100'),
  OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: oneOf([
    'explicit_bucket_histogram',
    'base2_exponential_bucket_histogram',
  ]).default('explicit_bucket_histogram'),
});

/** The names of every environment variable the service reads (a test checks docs/configuration.md against it). */
export const configVariableNames = Object.keys(variables.shape);

const schema = variables.superRefine((env, ctx) => {
  // The docs page and the OpenAPI document name the token endpoint; Cognito's is on the user pool's domain, which
  // the pool id does not tell. Without it the page would offer a URL nothing serves.
  if (env.COGNITO_ISSUER_URL === undefined) {
    for (const poolId of env.USER_POOL_ID ?? []) {
      if (!userPoolIdPattern.test(poolId)) {
        ctx.addIssue({
          code: 'custom',
          path: ['USER_POOL_ID'],
          message: 'must be a Cognito user pool id such as us-east-1_AbC123 (any other form needs COGNITO_ISSUER_URL)',
        });
      }
    }
  } else if (/[?#]/.test(env.COGNITO_ISSUER_URL)) {
    ctx.addIssue({ code: 'custom', path: ['COGNITO_ISSUER_URL'], message: 'must have no query or fragment' });
  }
  // An emulator's token endpoint is often not where Cognito's is; without one the docs page offers a bearer field.
  if (env.USER_POOL_ID !== undefined && env.OAUTH_TOKEN_URL === undefined && env.COGNITO_ISSUER_URL === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['OAUTH_TOKEN_URL'],
      message:
        "is required with USER_POOL_ID: the user pool domain's /oauth2/token (the Cognito stack exports it as UserPool::TokenUrl)",
    });
  }
  if (env.HTTP_HEADERS_TIMEOUT_MS > env.HTTP_REQUEST_TIMEOUT_MS) {
    ctx.addIssue({
      code: 'custom',
      path: ['HTTP_HEADERS_TIMEOUT_MS'],
      message: 'must not exceed HTTP_REQUEST_TIMEOUT_MS',
    });
  }
  const requires = {
    JWKS_URI: 'OIDC_ISSUER',
    OIDC_AUDIENCE: 'OIDC_ISSUER',
    OIDC_TOKEN_TYPE: 'OIDC_ISSUER',
    JWT_ALGORITHMS: 'OIDC_ISSUER',
    ALLOWED_CLIENT_IDS: 'USER_POOL_ID',
    COGNITO_TOKEN_USE: 'USER_POOL_ID',
    COGNITO_ISSUER_URL: 'USER_POOL_ID',
  } as const;
  for (const [name, needed] of Object.entries(requires) as [keyof typeof requires, 'OIDC_ISSUER' | 'USER_POOL_ID'][]) {
    if (env[name] !== undefined && env[needed] === undefined) {
      ctx.addIssue({ code: 'custom', path: [name], message: `is only used together with ${needed}` });
    }
  }
});

/** The environment as the schema parsed it: every variable checked, defaults filled in. */
type Env = z.infer<typeof schema>;

type Mode = Config['auth']['mode'];

/** The trusted issuers: each Cognito user pool of USER_POOL_ID, then the OIDC issuer, if any. */
function issuersOf(e: Env): IssuerConfig[] {
  const issuers: IssuerConfig[] = [];
  for (const userPoolId of e.USER_POOL_ID ?? []) {
    issuers.push(
      cognito({
        userPoolId,
        ...(e.AWS_REGION ? { region: e.AWS_REGION } : {}),
        clientIds: e.ALLOWED_CLIENT_IDS ?? null,
        ...(e.COGNITO_TOKEN_USE ? { tokenUse: e.COGNITO_TOKEN_USE } : {}),
        ...(e.COGNITO_ISSUER_URL ? { issuerBaseUrl: e.COGNITO_ISSUER_URL } : {}),
      }),
    );
  }
  if (e.OIDC_ISSUER) {
    issuers.push(
      oidc({
        issuer: e.OIDC_ISSUER,
        ...(e.JWKS_URI ? { jwksUri: e.JWKS_URI } : {}),
        ...(e.OIDC_AUDIENCE ? { audience: e.OIDC_AUDIENCE } : {}),
        ...(e.OIDC_TOKEN_TYPE ? { typ: e.OIDC_TOKEN_TYPE } : {}),
        ...(e.JWT_ALGORITHMS ? { algorithms: e.JWT_ALGORITHMS } : {}),
        // As the service has always read an OIDC issuer's tokens: a Cognito-shaped issuer behind OIDC_ISSUER keeps the
        // products routes' rule that people (a username) need a group where machines need only their scope.
        claims: standardClaims({
          clientId: ['client_id'],
          groups: 'cognito:groups',
          username: ['username', 'cognito:username'],
        }),
      }),
    );
  }
  return issuers;
}

function authOf(e: Env, mode: Mode): Config['auth'] {
  return {
    mode,
    issuers: issuersOf(e),
    realm: 'product-service',
    clockToleranceSec: e.CLOCK_TOLERANCE_SECONDS,
    maxTokenAgeSec: e.MAX_TOKEN_AGE_SECONDS,
    tokenCacheSize: e.TOKEN_CACHE_SIZE,
    // Local mode knows its own URL, unless the port is picked at start (PORT=0): its metadata is served there.
    resourceUrl: e.RESOURCE_URL ?? (mode === 'local' && e.PORT !== 0 ? `http://localhost:${e.PORT}` : undefined),
    stepUpMaxAgeSec: e.STEP_UP_MAX_AGE_SECONDS,
    keySet: {
      maxAgeMs: e.JWKS_MAX_AGE_SECONDS * 1000,
      cooldownMs: e.JWKS_COOLDOWN_SECONDS * 1000,
      staleIfErrorMs: e.JWKS_STALE_IF_ERROR_SECONDS * 1000,
      timeoutMs: e.JWKS_TIMEOUT_MS,
    },
  };
}

function productsOf(e: Env): Config['products'] {
  return {
    table: e.PRODUCTS_TABLE_NAME,
    snapshotsTable: e.PRODUCTS_SNAPSHOT_TABLE_NAME,
    dynamodbEndpoint: e.DYNAMODB_ENDPOINT,
    dynamodbTimeoutMs: e.DYNAMODB_TIMEOUT_MS,
    dynamodbMaxAttempts: e.DYNAMODB_MAX_ATTEMPTS,
    storeDeadlineMs: e.STORE_DEADLINE_MS,
    region: e.AWS_REGION ?? userPoolIdPattern.exec(e.USER_POOL_ID?.[0] ?? '')?.groups?.['region'],
    eventsTopicArn: e.PRODUCT_EVENTS_TOPIC_ARN,
    cursorSecret: e.CURSOR_SECRET,
    outboxDrainIntervalMs: e.OUTBOX_DRAIN_INTERVAL_SECONDS * 1000,
  };
}

/** The embedded issuer's pool, client and people, in local mode only. */
function localOf(e: Env, mode: Mode): LocalConfig | undefined {
  if (mode !== 'local') return undefined;
  return {
    issuerPort: e.LOCAL_ISSUER_PORT,
    userPoolId: e.LOCAL_USER_POOL_ID,
    clientId: e.LOCAL_CLIENT_ID,
    clientSecret: e.LOCAL_CLIENT_SECRET,
    users: e.LOCAL_USERS.map((entry) => {
      const [username = '', password = '', groups = ''] = entry.split(':');
      return { username, password, groups: groups.split('|').filter((group) => group.length > 0) };
    }),
  };
}

/** OpenTelemetry's settings, when an endpoint is set; otherwise telemetry is off. */
function telemetryOf(e: Env): TelemetryConfig | undefined {
  if (!e.OTEL_EXPORTER_OTLP_ENDPOINT) return undefined;
  return {
    endpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, ''),
    protocol: e.OTEL_EXPORTER_OTLP_PROTOCOL,
    serviceName: e.OTEL_SERVICE_NAME,
    sampler: e.OTEL_TRACES_SAMPLER,
    samplerRatio: e.OTEL_TRACES_SAMPLER_ARG ?? 1,
    metricExportIntervalMs: e.OTEL_METRIC_EXPORT_INTERVAL,
    histogramAggregation: e.OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION,
  };
}

/** The environment, checked: a blank variable counts as unset, and every problem is named at once. */
function parseEnv(env: NodeJS.ProcessEnv): Env {
  const blankAsUnset = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = schema.safeParse(blankAsUnset);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${String(issue.path[0] ?? 'environment')} ${issue.message}`),
    );
  }
  return parsed.data;
}

/**
 * The environment, parsed once at startup. Names only the variables that are wrong, and never echoes a value,
 * since some of them are secrets.
 */
export function loadConfig(env: NodeJS.ProcessEnv, options: { isTTY?: boolean } = {}): Config {
  const e = parseEnv(env);
  const mode: Mode = e.USER_POOL_ID ? 'aws' : e.OIDC_ISSUER ? 'oidc' : 'local';
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    http: {
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    },
    logLevel: e.LOG_LEVEL,
    prettyLogs: e.LOG_FORMAT ? e.LOG_FORMAT === 'pretty' : mode === 'local' && options.isTTY === true,
    auth: authOf(e, mode),
    tokenUrl: e.OAUTH_TOKEN_URL,
    products: productsOf(e),
    corsOrigins:
      e.CORS_ORIGINS ?? (mode === 'local' ? [`http://localhost:${e.PORT}`, `http://127.0.0.1:${e.PORT}`] : []),
    local: localOf(e, mode),
    telemetry: telemetryOf(e),
  });
}
