import type { ClientMetadata } from 'oidc-provider';

/** A machine's app client: the client_credentials grant with a secret, as a Cognito confidential client. */
export interface LocalClient {
  readonly id: string;
  readonly secret: string;
  readonly scopes: readonly string[];
}

/** The public app client for people: authorization code with PKCE, no secret, as a Cognito SPA client. */
export interface LocalWebClient {
  readonly id: string;
  readonly redirectUris: readonly string[];
}

/** The issuer's app clients: what oidc-provider registers, and which scopes each may have. */
export interface Clients {
  readonly metadata: readonly ClientMetadata[];
  /** Every scope the client may have (none for a client it does not know). */
  readonly scopesOf: (clientId: string) => readonly string[];
}

function machineClient(client: LocalClient): ClientMetadata {
  return {
    client_id: client.id,
    client_secret: client.secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: client.scopes.join(' '),
  };
}

function webClientMetadata(webClient: LocalWebClient, scopes: readonly string[]): ClientMetadata {
  return {
    client_id: webClient.id,
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [...webClient.redirectUris],
    post_logout_redirect_uris: [...webClient.redirectUris],
    // Cognito's ID tokens always say when the person signed in.
    require_auth_time: true,
    scope: ['openid', 'email', ...scopes].join(' '),
  };
}

export function createClients(options: {
  readonly clients: readonly LocalClient[];
  readonly webClient: LocalWebClient | undefined;
  /** Every scope of the resource server: the web client may ask for any of them, as its people's groups decide. */
  readonly scopes: readonly string[];
}): Clients {
  const { clients, webClient, scopes } = options;
  const allowed = new Map<string, readonly string[]>(clients.map((client) => [client.id, client.scopes]));
  if (webClient) allowed.set(webClient.id, scopes);
  return {
    metadata: [...clients.map(machineClient), ...(webClient ? [webClientMetadata(webClient, scopes)] : [])],
    scopesOf: (clientId) => allowed.get(clientId) ?? [],
  };
}
