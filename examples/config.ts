import { cognito, oidc, type Algorithm, type IssuerConfig } from '@product-service/bearer';
import { supportedAlgorithms } from '@product-service/bearer/defaults';

/** What every example needs: the port, and the issuer it trusts. */
export interface ExampleConfig {
  readonly port: number;
  readonly issuers: readonly IssuerConfig[];
}

const list = (value: string | undefined): string[] | undefined => {
  const items = value
    ?.split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  return items && items.length > 0 ? items : undefined;
};

/**
 * The service's own variables (docs/configuration.md), the few an example needs: a Cognito user pool
 * (`USER_POOL_ID`, with `COGNITO_ISSUER_URL` for a Cognito-compatible issuer elsewhere, and `ALLOWED_CLIENT_IDS`), or
 * any OpenID Connect issuer (`OIDC_ISSUER`, `OIDC_AUDIENCE`, `JWT_ALGORITHMS`); and `PORT`. Throws naming the
 * variable that is wrong, never its value.
 */
export function readConfig(env: NodeJS.ProcessEnv): ExampleConfig {
  const port = Number(env['PORT'] ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('PORT must be a whole number up to 65535');
  const issuers: IssuerConfig[] = [];
  const userPoolId = env['USER_POOL_ID'];
  if (userPoolId) {
    const issuerBaseUrl = env['COGNITO_ISSUER_URL'];
    issuers.push(
      cognito({
        userPoolId,
        // Unset: every app client of the pool, as the service has it.
        clientIds: list(env['ALLOWED_CLIENT_IDS']) ?? null,
        ...(issuerBaseUrl ? { issuerBaseUrl } : {}),
      }),
    );
  }
  const issuer = env['OIDC_ISSUER'];
  if (issuer) {
    const audience = list(env['OIDC_AUDIENCE']);
    const algorithms = list(env['JWT_ALGORITHMS']);
    const isSupported = (name: string): name is Algorithm => (supportedAlgorithms as readonly string[]).includes(name);
    if (algorithms && !algorithms.every(isSupported)) {
      throw new Error(`JWT_ALGORITHMS must list only ${supportedAlgorithms.join(', ')}`);
    }
    issuers.push(
      oidc({
        issuer,
        ...(audience ? { audience } : {}),
        ...(algorithms ? { algorithms: algorithms.filter(isSupported) } : {}),
      }),
    );
  }
  if (issuers.length === 0) throw new Error('no issuer is configured: set USER_POOL_ID (Cognito) or OIDC_ISSUER');
  return { port, issuers };
}
