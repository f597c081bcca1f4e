import type { Config } from '../config.js';

/** The local app client for people: public (no secret), authorization code with PKCE, as a Cognito SPA client. */
export const localWebClientId = 'local-web';

/** Where the hosted login may send a person back: the docs page's OAuth2 redirect, on the service's own origins. */
export function localRedirectUris(config: Config): string[] {
  return [`http://localhost:${config.port}`, `http://127.0.0.1:${config.port}`, ...config.corsOrigins].map(
    (origin) => `${origin}/docs/oauth2-redirect.html`,
  );
}
