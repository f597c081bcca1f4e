import { createServer as createNetServer, type AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createService, type Service, type ServiceOptions } from '../../src/app.js';
import { createLocalService, type LocalService } from '../../src/local/service.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { IssuerConfig } from '@product-service/bearer';

export interface RunningService {
  readonly url: string;
  /** In local mode, with the embedded issuer and store it runs on. */
  readonly service: Service & Partial<Pick<LocalService, 'localIssuer' | 'localDynamoEndpoint'>>;
  close(): Promise<void>;
}

export { localTestConfig } from './local-config.js';

/** A config that trusts the given issuers (e.g. a JWKS server the test controls) instead of the embedded one. */
export function configTrusting(issuers: readonly IssuerConfig[]): Config {
  const base = loadConfig({ PORT: '0', LOG_LEVEL: 'silent', OIDC_ISSUER: 'https://unused.example' });
  return { ...base, auth: { ...base.auth, mode: 'oidc', issuers }, local: undefined };
}

export async function startService(
  config: Config,
  options: ServiceOptions & { port?: number } = {},
): Promise<RunningService> {
  // As `npm start` builds it: in local mode the embedded parts, then the very service that runs in AWS.
  const service = config.local ? await createLocalService(config, options) : await createService(config, options);
  const server: Server = service.app.listen(options.port ?? 0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    service,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await service.close();
    },
  };
}

export interface TokenResponse {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** client_credentials over HTTP, exactly as a client of Cognito would ask. */
export async function requestToken(
  tokenUrl: string,
  client: { id: string; secret: string },
  options: { scope?: string; auth?: 'basic' | 'post' } = {},
): Promise<TokenResponse> {
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (options.scope !== undefined) form.set('scope', options.scope);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (options.auth === 'post') {
    form.set('client_id', client.id);
    form.set('client_secret', client.secret);
  } else {
    headers['authorization'] = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
  }
  const response = await fetch(tokenUrl, { method: 'POST', headers, body: form });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export async function fetchToken(
  tokenUrl: string,
  client: { id: string; secret: string },
  scope?: string,
): Promise<string> {
  const { status, body } = await requestToken(tokenUrl, client, scope === undefined ? {} : { scope });
  if (status !== 200 || typeof body['access_token'] !== 'string') {
    throw new Error(`token request failed: ${status} ${JSON.stringify(body)}`);
  }
  return body['access_token'];
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** A port that was free a moment ago, for a test that must know its origin before the service starts. */
export async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** The embedded issuer's machine client (src/local/issuer.ts), granted both product scopes. */
export const localClient = { id: 'local-client', secret: 'local-client-secret' } as const;

/** A product made through the API, as a client makes one: its id. */
export async function createProduct(url: string, token: string, name = 'Made for a test'): Promise<string> {
  const response = await fetch(`${url}/products`, {
    method: 'POST',
    headers: { ...bearer(token), 'content-type': 'application/json' },
    body: JSON.stringify({ name, imageURL: 'https://images.example.com/test.png' }),
  });
  if (response.status !== 201) throw new Error(`POST /products answered ${response.status}`);
  return ((await response.json()) as { id: string }).id;
}
