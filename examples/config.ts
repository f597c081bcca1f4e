import {
  cognito,
  oidc,
  protectedResourceMetadataPath,
  protectedResourceMetadataUrl,
  type Algorithm,
  type DpopOptions,
  type IssuerConfig,
} from '@product-service/bearer';
import { supportedAlgorithms } from '@product-service/bearer/defaults';

/** What every example needs: the port, the issuer it trusts, and the resource it is (RFC 9728). */
export interface ExampleConfig {
  readonly port: number;
  readonly issuers: readonly IssuerConfig[];
  /** The resource identifier (RFC 9728 §1.2): `RESOURCE_URL`, else `http://localhost:<PORT>`. */
  readonly resource: string;
  /** Where its metadata is served (RFC 9728 §3.1): the well-known path, with the resource's path inserted. */
  readonly resourceMetadataPath: string;
  /** The metadata's URL, which every challenge names as `resource_metadata` (RFC 9728 §5.1). */
  readonly resourceMetadataUrl: string;
  /**
   * DPoP (RFC 9449) from `DPOP`: `allowed` (the default: bound tokens need a proof, bearer tokens still admitted),
   * `required` (bearer tokens refused) or `off`. Proofs name the resource URL as their `htu`.
   */
  readonly dpop: DpopOptions | false;
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
 * any OpenID Connect issuer (`OIDC_ISSUER`, `OIDC_AUDIENCE`, `JWT_ALGORITHMS`); `PORT` and `RESOURCE_URL`. Throws
 * naming the variable that is wrong, never its value.
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
  const resource = resourceOf(env['RESOURCE_URL']?.trim() || undefined, port);
  return { port, issuers, ...resource, dpop: dpopOf(env['DPOP']?.trim() || 'allowed', resource.resource) };
}

function dpopOf(mode: string, resource: string): DpopOptions | false {
  if (mode === 'off') return false;
  if (mode !== 'allowed' && mode !== 'required') throw new Error('DPOP must be allowed, required or off');
  return { resource, required: mode === 'required' };
}

/**
 * The resource identifier and where its metadata is. Unset, an example, which runs on this machine, is
 * `http://localhost:<PORT>`: a fixed name from its own configuration, never the request's `Host`, which any client
 * sets (RFC 9728 §7.3), and the name a client must then call it by, since it checks that the document's `resource` is
 * the URL it called (§3.3). Behind another name (a proxy, a container's mapped port, `127.0.0.1`), set `RESOURCE_URL`.
 */
function resourceOf(value: string | undefined, port: number) {
  if (value === undefined && port === 0) {
    throw new Error(
      'RESOURCE_URL must be set when PORT is 0: the port, and so the resource, is known only once it listens',
    );
  }
  const resource = value ?? `http://localhost:${port}`;
  try {
    // As the service's rules: https (http on loopback), no query, fragment or userinfo (RFC 9728 §1.2).
    const resourceMetadataUrl = protectedResourceMetadataUrl(resource);
    // The metadata's path becomes a route: letters, digits, `-._~` and `/` only, so no character reads as a pattern.
    if (!/^[\w.~/-]*$/.test(new URL(resource).pathname)) {
      throw new TypeError('the resource identifier must have a path of letters, digits, -._~ and /');
    }
    return { resource, resourceMetadataPath: protectedResourceMetadataPath(resource), resourceMetadataUrl };
  } catch (error) {
    throw new Error(`RESOURCE_URL: ${error instanceof Error ? error.message : String(error)}`);
  }
}
