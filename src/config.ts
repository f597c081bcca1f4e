import { z } from 'zod';
import { cognitoIssuer, userPoolIdPattern, type IssuerConfig } from './auth/index.js';

/** The local client and issuer used when no AWS or OIDC settings are given. */
export interface LocalConfig {
  readonly issuerPort: number;
  readonly userPoolId: string;
  readonly clientId: string;
  readonly clientSecret: string;
}

export interface Config {
  readonly port: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Pretty, human-oriented logs instead of JSON lines. */
  readonly prettyLogs: boolean;
  readonly auth: {
    /** `local`: the embedded issuer is started and trusted (its issuer URL is known only once it listens). */
    readonly mode: 'aws' | 'oidc' | 'local';
    readonly issuers: readonly IssuerConfig[];
    readonly realm: string;
  };
  readonly local: LocalConfig | undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
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

const httpsUrl = z
  .string()
  .trim()
  .refine((value) => URL.canParse(value), 'must be an absolute URL')
  .refine((value) => {
    const url = new URL(value);
    return url.protocol === 'https:' || (url.protocol === 'http:' && ['localhost', '127.0.0.1'].includes(url.hostname));
  }, 'must be an https URL (http only for localhost)');

const schema = z
  .object({
    PORT: port(3000),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
    USER_POOL_ID: z
      .string()
      .trim()
      .regex(userPoolIdPattern, 'must be a Cognito user pool id such as us-east-1_AbC123')
      .optional(),
    AWS_REGION: z
      .string()
      .trim()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS region such as us-east-1')
      .optional(),
    ALLOWED_CLIENT_IDS: list,
    OIDC_ISSUER: httpsUrl.optional(),
    JWKS_URI: httpsUrl.optional(),
    OIDC_AUDIENCE: list,
    LOCAL_ISSUER_PORT: port(9229),
    LOCAL_USER_POOL_ID: z
      .string()
      .trim()
      .regex(/^[\w-]+_[0-9A-Za-z]+$/, 'must look like a user pool id, e.g. local_ProductService')
      .default('local_ProductService'),
    LOCAL_CLIENT_ID: z.string().trim().min(1, 'must not be empty').default('local-client'),
    LOCAL_CLIENT_SECRET: z.string().min(8, 'must be at least 8 characters').default('local-client-secret'),
  })
  .superRefine((env, ctx) => {
    if (env.JWKS_URI && !env.OIDC_ISSUER) {
      ctx.addIssue({ code: 'custom', path: ['JWKS_URI'], message: 'is only used together with OIDC_ISSUER' });
    }
    if (env.OIDC_AUDIENCE && !env.OIDC_ISSUER) {
      ctx.addIssue({ code: 'custom', path: ['OIDC_AUDIENCE'], message: 'is only used together with OIDC_ISSUER' });
    }
    if (env.ALLOWED_CLIENT_IDS && !env.USER_POOL_ID) {
      ctx.addIssue({
        code: 'custom',
        path: ['ALLOWED_CLIENT_IDS'],
        message: 'is only used together with USER_POOL_ID',
      });
    }
  });

/**
 * The environment, parsed once at startup. Names only the variables that are wrong, and never echoes a value,
 * since some of them are secrets.
 */
export function loadConfig(env: NodeJS.ProcessEnv, options: { isTTY?: boolean } = {}): Config {
  const blankAsUnset = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = schema.safeParse(blankAsUnset);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || 'environment'} ${issue.message}`),
    );
  }
  const e = parsed.data;
  const issuers: IssuerConfig[] = [];
  if (e.USER_POOL_ID) {
    issuers.push(
      cognitoIssuer({
        userPoolId: e.USER_POOL_ID,
        ...(e.AWS_REGION ? { region: e.AWS_REGION } : {}),
        ...(e.ALLOWED_CLIENT_IDS ? { clientIds: e.ALLOWED_CLIENT_IDS } : {}),
      }),
    );
  }
  if (e.OIDC_ISSUER) {
    issuers.push({
      issuer: e.OIDC_ISSUER,
      ...(e.JWKS_URI ? { jwksUri: e.JWKS_URI } : {}),
      ...(e.OIDC_AUDIENCE ? { audience: e.OIDC_AUDIENCE } : {}),
    });
  }
  const mode: Config['auth']['mode'] = e.USER_POOL_ID ? 'aws' : e.OIDC_ISSUER ? 'oidc' : 'local';
  return Object.freeze({
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    prettyLogs: e.LOG_FORMAT ? e.LOG_FORMAT === 'pretty' : mode === 'local' && options.isTTY === true,
    auth: { mode, issuers, realm: 'product-service' },
    local:
      mode === 'local'
        ? {
            issuerPort: e.LOCAL_ISSUER_PORT,
            userPoolId: e.LOCAL_USER_POOL_ID,
            clientId: e.LOCAL_CLIENT_ID,
            clientSecret: e.LOCAL_CLIENT_SECRET,
          }
        : undefined,
  });
}
