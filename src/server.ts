// The service as it runs in AWS (the Docker image's entry point): an external issuer and DynamoDB, nothing
// embedded. `npm start` runs src/local/main.ts, which adds the embedded issuer and store when nothing is configured.
import { createService } from './app.js';
import { serve, StartupError } from './serve.js';

await serve({
  build(config) {
    if (config.local) {
      throw new StartupError(
        'no issuer is configured: set USER_POOL_ID (Cognito) or OIDC_ISSUER; for a local run with an embedded ' +
          'issuer and store, use npm start',
      );
    }
    return createService(config);
  },
});
